/*
 * caller.c - who called gort_recover(): Go's argp check, in C.
 *
 * Go's recover works only when called directly by the deferred function
 * the panic is running: gorecover compares the caller's argument pointer
 * with the one the panic recorded.  gort records, when it calls a deferred
 * function, the stack pointer just before the call: the callee's
 * canonical frame address (CFA).  gort_recover must then find the CFA of
 * its own caller and compare.
 *
 * Walking the stack with libgcc's _Unwind_Backtrace does that exactly but
 * costs ~600 ns, three times Go's whole panic+recover.  So this file
 * computes the caller's CFA from one frame only:
 *
 *   - the return address R of gort_recover lies in the caller; libgcc's
 *     _Unwind_Find_FDE finds the unwind-table entry (FDE) covering R,
 *     which gives the caller's start address;
 *   - interpreting the FDE's call-frame instructions up to the call
 *     instruction gives the rule "CFA = register + offset" in force there;
 *     the register is the stack pointer (its value at the call is
 *     gort_recover's own CFA) or the frame pointer (its value is the one
 *     gort_recover's prologue saved);
 *   - the call instruction before R is decoded (x86-64): it must target
 *     gort_recover or its PLT entry, since a helper that tail-called
 *     gort_recover also returns into the deferred function.
 *
 * The result of the two table look-ups depends only on R, so it is cached
 * per thread; a recover then costs a few loads.  Anything the interpreter
 * does not understand (a CFA expression, a register other than the stack
 * or frame pointer) falls back to _Unwind_Backtrace.
 *
 * gort itself is built with frame pointers, so gort_recover's frame
 * address is its CFA minus 16 and its saved frame pointer sits there.
 */
#include "caller_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unwind.h>

/* ===================================================================
 * libgcc's FDE look-up
 * =================================================================== */

struct dwarf_eh_bases {
    void *tbase;
    void *dbase;
    void *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

/* ===================================================================
 * A minimal call-frame-information interpreter (x86-64)
 * =================================================================== */

enum {
    DW_REG_RBP = 6,
    DW_REG_RSP = 7,
    RULE_UNKNOWN = 0, /* fall back to the unwinder */
    RULE_RSP = 1,     /* CFA = rsp at the call + offset */
    RULE_RBP = 2,     /* CFA = rbp at the call + offset */
};

typedef struct cfa_rule {
    int kind;       /* RULE_* */
    int64_t offset; /* added to the register */
} cfa_rule;

typedef struct cursor {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* end of the instructions */
    bool bad;                 /* ran past the end */
} cursor;

static uint64_t read_uleb(cursor *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (c->p < c->end) {
        unsigned char b = *c->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t read_sleb(cursor *c)
{
    int64_t v = 0;
    unsigned shift = 0;
    unsigned char b = 0;
    while (c->p < c->end) {
        b = *c->p++;
        if (shift < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    c->bad = true;
    return 0;
}

static uint64_t read_fixed(cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->p, n); /* little-endian */
    c->p += n;
    return v;
}

/* Size in bytes of a value with pointer encoding enc (DW_EH_PE_*), or 0
 * for encodings we do not expect in call-frame information. */
static size_t encoded_size(unsigned char enc)
{
    switch (enc & 0x0f) {
    case 0x00: return 8; /* absptr */
    case 0x02: return 2; /* udata2 */
    case 0x03: return 4; /* udata4 */
    case 0x04: return 8; /* udata8 */
    case 0x0a: return 2; /* sdata2 */
    case 0x0b: return 4; /* sdata4 */
    case 0x0c: return 8; /* sdata8 */
    default: return 0;
    }
}

typedef struct cfa_state {
    int reg;        /* DWARF register of the CFA rule, -1 for an expression */
    int64_t offset; /* offset of the CFA rule */
} cfa_state;

enum { STATE_STACK = 8 };

/* Runs instructions until the location passes target; returns false if
 * something is not understood. */
static bool run_cfi(cursor *c, uint64_t *loc, uint64_t target,
                    uint64_t code_align, int64_t data_align, cfa_state *st,
                    cfa_state *stack, int *depth)
{
    while (c->p < c->end && !c->bad) {
        unsigned char op = *c->p++;
        uint64_t delta = 0;
        switch (op & 0xc0) {
        case 0x40: delta = (op & 0x3f) * code_align; goto advance;
        case 0x80: read_uleb(c); continue;  /* offset: register saved */
        case 0xc0: continue;                /* restore */
        default: break;
        }
        switch (op) {
        case 0x00: continue; /* nop */
        case 0x02: delta = read_fixed(c, 1) * code_align; goto advance;
        case 0x03: delta = read_fixed(c, 2) * code_align; goto advance;
        case 0x04: delta = read_fixed(c, 4) * code_align; goto advance;
        case 0x05: read_uleb(c); read_uleb(c); continue; /* offset_extended */
        case 0x06: case 0x07: case 0x08: read_uleb(c); continue;
        case 0x09: read_uleb(c); read_uleb(c); continue; /* register */
        case 0x0a:                                       /* remember_state */
            if (*depth == STATE_STACK)
                return false;
            stack[(*depth)++] = *st;
            continue;
        case 0x0b: /* restore_state */
            if (*depth == 0)
                return false;
            *st = stack[--(*depth)];
            continue;
        case 0x0c: /* def_cfa */
            st->reg = (int)read_uleb(c);
            st->offset = (int64_t)read_uleb(c);
            continue;
        case 0x0d: st->reg = (int)read_uleb(c); continue; /* def_cfa_register */
        case 0x0e: st->offset = (int64_t)read_uleb(c); continue;
        case 0x0f: /* def_cfa_expression */
            st->reg = -1;
            c->p += read_uleb(c);
            continue;
        case 0x10: case 0x16: /* expression, val_expression */
            read_uleb(c);
            c->p += read_uleb(c);
            continue;
        case 0x11: case 0x15: read_uleb(c); read_sleb(c); continue;
        case 0x12: /* def_cfa_sf */
            st->reg = (int)read_uleb(c);
            st->offset = read_sleb(c) * data_align;
            continue;
        case 0x13: st->offset = read_sleb(c) * data_align; continue;
        case 0x14: read_uleb(c); read_uleb(c); continue; /* val_offset */
        case 0x2e: read_uleb(c); continue;               /* GNU_args_size */
        case 0x2f: read_uleb(c); read_uleb(c); continue;
        default: return false; /* set_loc and anything unknown */
        }
    advance:
        if (*loc + delta > target)
            return true; /* the current row covers target */
        *loc += delta;
    }
    return !c->bad;
}

/* The CFA rule in force at pc, from the FDE libgcc found for it. */
static cfa_rule rule_at(const void *fde_ptr, uint64_t func, uint64_t pc)
{
    cfa_rule none = {RULE_UNKNOWN, 0};
    const unsigned char *fde = fde_ptr;
    uint32_t fde_len, cie_delta;
    memcpy(&fde_len, fde, 4);
    memcpy(&cie_delta, fde + 4, 4);
    if (fde_len == 0xffffffffu || fde_len < 8)
        return none; /* 64-bit DWARF: not produced for .eh_frame here */
    const unsigned char *cie = fde + 4 - cie_delta;
    uint32_t cie_len;
    memcpy(&cie_len, cie, 4);
    if (cie_len == 0xffffffffu || cie_len < 8)
        return none;

    /* The CIE: version, augmentation, alignment factors, augmentation
     * data (we need the FDE pointer encoding), initial instructions. */
    cursor c = {cie + 8, cie + 4 + cie_len, false};
    unsigned version = (unsigned)read_fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
    c.p += aug_len + 1;
    if (version >= 4)
        c.p += 2; /* address_size, segment_size */
    uint64_t code_align = read_uleb(&c);
    int64_t data_align = read_sleb(&c);
    if (version == 1)
        read_fixed(&c, 1);
    else
        read_uleb(&c);
    unsigned char fde_enc = 0;
    bool has_aug_data = aug[0] == 'z';
    if (has_aug_data) {
        uint64_t n = read_uleb(&c);
        const unsigned char *data_end = c.p + n;
        for (const char *a = aug + 1; *a != '\0' && c.p < data_end; a++) {
            if (*a == 'R') {
                fde_enc = (unsigned char)read_fixed(&c, 1);
            } else if (*a == 'P') {
                unsigned char penc = (unsigned char)read_fixed(&c, 1);
                size_t sz = encoded_size(penc);
                if (sz == 0)
                    return none;
                c.p += sz;
            } else if (*a == 'L') {
                read_fixed(&c, 1);
            } else if (*a != 'S' && *a != 'B') {
                return none;
            }
        }
        c.p = data_end;
    } else if (aug[0] != '\0') {
        return none;
    }
    if (c.bad || c.p > c.end)
        return none;

    cfa_state st = {DW_REG_RSP, 8};
    cfa_state stack[STATE_STACK];
    int depth = 0;
    uint64_t loc = func;
    cursor init = c;
    if (!run_cfi(&init, &loc, pc, code_align, data_align, &st, stack, &depth))
        return none;

    /* The FDE: skip pc_begin and pc_range, its augmentation data, then
     * run its instructions from the function start. */
    size_t psz = encoded_size(fde_enc);
    if (psz == 0)
        return none;
    cursor f = {fde + 8 + 2 * psz, fde + 4 + fde_len, false};
    if (has_aug_data)
        f.p += read_uleb(&f);
    cfa_state initial = st;
    (void)initial;
    loc = func;
    if (!run_cfi(&f, &loc, pc, code_align, data_align, &st, stack, &depth))
        return none;
    if (st.reg == DW_REG_RSP)
        return (cfa_rule){RULE_RSP, st.offset};
    if (st.reg == DW_REG_RBP)
        return (cfa_rule){RULE_RBP, st.offset};
    return none;
}

/* ===================================================================
 * The call instruction before a return address (x86-64)
 * =================================================================== */

/* Follows a PLT entry: [endbr64] [bnd] jmp *disp32(%rip). */
static uintptr_t through_plt(uintptr_t target)
{
    const unsigned char *c = (const unsigned char *)target;
    if (c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
        c += 4; /* endbr64 */
    if (c[0] == 0xf2)
        c++; /* bnd prefix */
    if (c[0] == 0xff && c[1] == 0x25) {
        int32_t disp;
        memcpy(&disp, c + 2, 4);
        return *(const uintptr_t *)(c + 6 + disp);
    }
    return target;
}

/* Whether the call ending at ret calls `callee`.  Calls through a
 * register cannot be decoded: they count as calling it. */
static bool calls(uintptr_t ret, uintptr_t callee)
{
    const unsigned char *c = (const unsigned char *)ret;
    uintptr_t target;
    int32_t disp;
    if (c[-5] == 0xe8) { /* call rel32 (direct or to the PLT) */
        memcpy(&disp, c - 4, 4);
        target = through_plt(ret + (uintptr_t)(intptr_t)disp);
    } else if (c[-6] == 0xff && c[-5] == 0x15) { /* call *disp32(%rip) */
        memcpy(&disp, c - 4, 4);
        target = *(const uintptr_t *)(ret + (uintptr_t)(intptr_t)disp);
    } else {
        return true;
    }
    return target == callee;
}

/* ===================================================================
 * The slow, exact path: libgcc's unwinder
 * =================================================================== */

struct walk {
    int frame;     /* frames seen so far */
    uintptr_t cfa; /* result */
};

/* libgcc reports, for a frame whose pc lies in function F, the CFA of
 * F's callee (F's stack pointer at the call).  Frame 0 has its pc in
 * unwound_cfa(), frame 1 in gort__caller_cfa(), frame 2 in
 * gort_recover(), frame 3 in its caller, frame 4 in the caller's caller:
 * the CFA reported there is the caller's. */
static _Unwind_Reason_Code walk_step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    if (w->frame++ == 4) {
        w->cfa = _Unwind_GetCFA(ctx);
        return _URC_END_OF_STACK;
    }
    return _URC_NO_REASON;
}

__attribute__((noinline)) static uintptr_t unwound_cfa(void)
{
    struct walk w = {0, 0};
    _Unwind_Backtrace(walk_step, &w);
    __asm__ volatile("" ::: "memory"); /* no tail call: frame 0 must exist */
    return w.cfa;
}

/* ===================================================================
 * gort__caller_cfa
 * =================================================================== */

enum { CACHE = 16 }; /* entries per thread, a power of two */

typedef struct caller_info {
    uintptr_t ret;   /* return address; 0: empty entry */
    uintptr_t start; /* start of the function holding it, 0 if unknown */
    bool direct;     /* the call there targets the callee */
    cfa_rule rule;   /* CFA rule of the caller at the call */
} caller_info;

/* Entries never go stale while the code stays mapped; a module unloaded
 * and another loaded at the same address could only make a check fail,
 * never succeed wrongly, since the start must equal the deferred
 * function. */
static __thread caller_info cache[CACHE]
    __attribute__((tls_model("initial-exec")));

/* @callee is the function the call at @ret must target; the same return
 * address always comes with the same callee (gort_recover, or 0 from
 * gort__function_start for gort__recover_cfa's call sites). */
static const caller_info *lookup(uintptr_t ret, uintptr_t callee)
{
    caller_info *c = &cache[((ret >> 2) ^ (ret >> 9)) & (CACHE - 1)];
    if (c->ret == ret)
        return c;
    struct dwarf_eh_bases bases = {0, 0, 0};
    /* ret - 1: inside the call instruction, in case the call is the
     * function's last instruction. */
    const void *fde = _Unwind_Find_FDE((void *)(ret - 1), &bases);
    c->start = fde != NULL ? (uintptr_t)bases.func : 0;
    c->rule = (cfa_rule){RULE_UNKNOWN, 0};
#if defined(__x86_64__)
    c->direct = callee == 0 || calls(ret, callee);
    if (fde != NULL && callee != 0)
        c->rule = rule_at(fde, c->start, ret - 1);
#else
    (void)callee;
    c->direct = true;
#endif
    c->ret = ret;
    return c;
}

uintptr_t gort__function_start(uintptr_t ret)
{
    return lookup(ret, 0)->start;
}

bool gort__is_function(uintptr_t start, uintptr_t fn)
{
    if (start == 0)
        return false;
    if (start == fn)
        return true;
#if defined(__x86_64__)
    /* A non-PIE executable's pointer to a shared library's function is
     * the executable's PLT entry. */
    return start == through_plt(fn);
#else
    return false;
#endif
}

__attribute__((noinline)) uintptr_t gort__caller_cfa(uintptr_t ret,
                                                     uintptr_t frame,
                                                     uintptr_t callee,
                                                     uintptr_t *start,
                                                     bool *direct)
{
    const caller_info *c = lookup(ret, callee);
    *start = c->start;
    *direct = c->direct;
    switch (c->rule.kind) {
    case RULE_RSP:
        /* The caller's stack pointer at the call is the callee's CFA. */
        return frame + 2 * sizeof(void *) + (uintptr_t)c->rule.offset;
    case RULE_RBP:
        /* The callee's prologue saved the caller's frame pointer. */
        return *(const uintptr_t *)frame + (uintptr_t)c->rule.offset;
    default: {
        uintptr_t cfa = unwound_cfa();
        __asm__ volatile("" ::: "memory"); /* keep this frame for the walk */
        return cfa;
    }
    }
}
