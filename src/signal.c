/* Temporary bootstrap version; replaced by the real handlers. */
#include "runtime_internal.h"
void gort__signal_init(void) {}
void gort__signal_thread_init(void) {}
void gort__signal_thread_fini(void) {}
bool gort_signal_panics(bool enable) { (void)enable; return false; }
