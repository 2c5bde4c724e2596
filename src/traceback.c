/* Temporary bootstrap version; replaced by the libdw symbolizer. */
#include "runtime_internal.h"
#include <unwind.h>

void gort__traceback_prepare(void) {}

static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    gort__out *o = arg;
    gort__out_str(o, "?(...)\n\t?:0 pc=");
    gort__out_hex(o, _Unwind_GetIP(ctx));
    gort__out_str(o, "\n");
    return _URC_NO_REASON;
}

void gort__traceback_print(gort__out *o, const ucontext_t *uc)
{
    (void)uc;
    gort__out_str(o, "goroutine ");
    gort__out_dec(o, gort_goid());
    gort__out_str(o, " [running]:\n");
    _Unwind_Backtrace(step, o);
}
