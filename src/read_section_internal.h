/*
 * read_section_internal.h - hooks of read_section.c called by the
 * goroutine and panic machinery.
 *
 * Never included from include/gort/.
 */
#ifndef GORT_READ_SECTION_INTERNAL_H
#define GORT_READ_SECTION_INTERNAL_H

#include <gort/defer.h>

/* The calling thread is ending (goroutine end, gort_thread_detach, the
 * thread-exit destructor): closes its open read sections, so no grace
 * period waits for a thread that is gone, and unregisters it.  Idempotent;
 * a later section registers the thread again. */
void gort__read_thread_fini(void);

/* A panic was recovered and frame @fr is about to resume: closes the
 * calling thread's open sections that were begun while @fr or a deeper
 * (newer) frame was the innermost one.  Sections begun with no frame open,
 * or in an older frame, stay open. */
void gort__read_recover(const gort__frame *fr);

/* The calling thread's number of open read sections (0: none).  A thread
 * with one open must not wait for a grace period or for a publisher that
 * waits for one (snapmap.c). */
unsigned gort__read_depth(void);

#endif /* GORT_READ_SECTION_INTERNAL_H */
