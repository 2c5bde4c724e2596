# GORT_SANITIZE=asan: AddressSanitizer + UndefinedBehaviorSanitizer.
# GORT_SANITIZE=tsan: ThreadSanitizer.  Applied to every target so the
# library, the tests and the examples agree (the defer frame's resume point
# differs under TSan; see include/gort/defer.h).
if(GORT_SANITIZE STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(GORT_SANITIZE STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT GORT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "GORT_SANITIZE must be '', 'asan' or 'tsan'")
endif()
