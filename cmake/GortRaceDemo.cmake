# gort_race_demo(<demo target>): race mode for gort-demo in every build tree.
#
# The race-report scenario shows ThreadSanitizer reporting two unordered
# writes to one map (examples/demo/race_program.c).  That needs TSan in the
# library too (the map reports its operations to TSan from src/map*.c), and
# ASan and TSan cannot share one executable.  So:
#
#   - tsan tree (GORT_SANITIZE=tsan): gort-demo itself is race mode and runs
#     the program as its hidden child part; nothing more is built;
#   - any other tree whose compiler links -fsanitize=thread: the library's
#     sources are compiled a second time into gort_objects_tsan, with the
#     definitions, include directories, options and libraries of
#     gort_objects but -fsanitize=thread in place of the tree's sanitizer
#     flags, and linked with race_main.c into gort-demo-race, next to
#     gort-demo, which runs it as a child;
#   - otherwise (or with -DGORT_DEMO_RACE=OFF) the scenario is reported as
#     skipped, with the reason compiled in.
#
# gort-demo depends on gort-demo-race, so `--target gort-demo`
# (scripts/demo.sh) builds both.  Cost: one more compile of the library's
# sources, about as much CPU time as libgort's own (8 s against 7 s, gcc
# 12, RelWithDebInfo), in parallel with everything else.

option(GORT_DEMO_RACE
  "Build gort-demo-race (a TSan build of the library) for gort-demo race-report" ON)

function(gort_race_demo demo)
  if(GORT_SANITIZE STREQUAL "tsan")
    message(STATUS "gort-demo race-report: runs in gort-demo (tsan tree)")
    return()
  endif()
  if(NOT GORT_DEMO_RACE)
    target_compile_definitions(${demo} PRIVATE
      "GORT_DEMO_RACE_UNAVAILABLE=\"this tree was configured with -DGORT_DEMO_RACE=OFF (ON, the default, or the tsan preset shows it)\"")
    message(STATUS "gort-demo race-report: off (GORT_DEMO_RACE=OFF)")
    return()
  endif()

  # Can the compiler build and link a threaded program with TSan?  (The
  # tree's own sanitizer flags are directory options: try_compile does not
  # see them.)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=thread)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=thread)
  set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
  check_c_source_compiles([[
#include <pthread.h>
static void *run(void *arg) { return arg; }
int main(void)
{
    pthread_t t;
    return pthread_create(&t, 0, run, 0) == 0 ? pthread_join(t, 0) : 1;
}
]] GORT_HAVE_TSAN)
  if(NOT GORT_HAVE_TSAN)
    target_compile_definitions(${demo} PRIVATE
      "GORT_DEMO_RACE_UNAVAILABLE=\"the compiler (${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}) cannot build with -fsanitize=thread (gcc and clang on x86-64 or aarch64 Linux can)\"")
    message(STATUS "gort-demo race-report: skipped (no -fsanitize=thread)")
    return()
  endif()

  # The library again, under TSan only.  Target properties are set, not
  # appended to, so that the directory's -fsanitize=address,undefined
  # (asan tree) never reaches these objects or the executable.
  list(TRANSFORM GORT_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/ OUTPUT_VARIABLE srcs)
  add_library(gort_objects_tsan OBJECT ${srcs})
  set(no_sanitizers "$<FILTER:$<TARGET_PROPERTY:gort_objects,COMPILE_OPTIONS>,EXCLUDE,sanitize>")
  set_target_properties(gort_objects_tsan PROPERTIES
    COMPILE_OPTIONS "${no_sanitizers};-fsanitize=thread;-fno-omit-frame-pointer"
    COMPILE_DEFINITIONS "$<TARGET_PROPERTY:gort_objects,COMPILE_DEFINITIONS>"
    INCLUDE_DIRECTORIES "$<TARGET_PROPERTY:gort_objects,INCLUDE_DIRECTORIES>")
  get_target_property(libs gort_objects LINK_LIBRARIES)
  target_link_libraries(gort_objects_tsan PUBLIC ${libs})
  target_include_directories(gort_objects_tsan PUBLIC ${PROJECT_SOURCE_DIR}/include)
  # Per-source options of the library (set in the top directory's scope).
  foreach(src ${GORT_SOURCES})
    get_source_file_property(opts ${src} DIRECTORY ${PROJECT_SOURCE_DIR} COMPILE_OPTIONS)
    if(opts)
      set_source_files_properties(${PROJECT_SOURCE_DIR}/${src} PROPERTIES
        COMPILE_OPTIONS "${opts}")
    endif()
  endforeach()

  add_executable(gort-demo-race race_main.c race_program.c)
  target_link_libraries(gort-demo-race PRIVATE gort_objects_tsan)
  set_target_properties(gort-demo-race PROPERTIES
    COMPILE_OPTIONS "${GORT_USER_FLAGS};-fsanitize=thread"
    LINK_OPTIONS -fsanitize=thread)
  add_dependencies(${demo} gort-demo-race)
  # The file name only: gort-demo finds it in its own directory.
  target_compile_definitions(${demo} PRIVATE
    GORT_DEMO_RACE_EXE="$<TARGET_FILE_NAME:gort-demo-race>")
  message(STATUS "gort-demo race-report: gort-demo-race (TSan build of the library)")
endfunction()
