# Warning set: -Wall -Wextra plus Lua's list, as errors when GORT_WERROR is on.
set(GORT_WARNINGS
  -Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wmissing-prototypes
  -Wstrict-prototypes -Wpointer-arith)
if(GORT_WERROR)
  list(APPEND GORT_WARNINGS -Werror)
endif()
# Flags meaningful for C only.
set(GORT_WARNINGS $<$<COMPILE_LANGUAGE:C>:${GORT_WARNINGS}>)
