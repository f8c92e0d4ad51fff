// protobuf-c runtime (Debian: libprotobuf-c-dev). Generated message code lives in its own C targets.
#include <protobuf-c/protobuf-c.h>
