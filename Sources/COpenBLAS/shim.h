// OpenBLAS from Debian's libopenblas-dev: CBLAS (sgemm) plus the threading control
// we need to keep OpenBLAS single-threaded while our own worker pool splits the work.
#include <cblas.h>
