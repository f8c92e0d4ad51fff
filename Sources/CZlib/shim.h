// zlib (Debian: zlib1g-dev): inflate for npz/zip entries and PNG.
#include <zlib.h>
