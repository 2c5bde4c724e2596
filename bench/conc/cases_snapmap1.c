/*
 * cases_snapmap1.c - gort_snapmap with at most one batch queued
 * (gort_snapmap_set_queue_batches(1)): the writer waits for each
 * publication, so a version holds exactly 1000 updates, as the Go COW
 * writer publishes every 1000.  The writer target is judged on this row
 * too (README.md).  The same cases as the default snapmap row.
 */
#define CONC_SNAPMAP_QUEUE_BATCHES 1
#include "cases_snapmap.c"
