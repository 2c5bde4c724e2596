/*
 * gort/gort.h - umbrella header: everything gort offers.
 */
#ifndef GORT_GORT_H
#define GORT_GORT_H

#include <gort/version.h>
#include <gort/defer.h>
#include <gort/map.h>
#include <gort/sync.h>

#endif /* GORT_GORT_H */
