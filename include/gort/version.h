/*
 * gort/version.h - library version.
 */
#ifndef GORT_VERSION_H
#define GORT_VERSION_H

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0
#define GORT_VERSION_STRING "0.1.0"

#endif /* GORT_VERSION_H */
