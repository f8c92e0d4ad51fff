// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev): JPEG frames for vlac run, bench and encode.
#include <turbojpeg.h>
