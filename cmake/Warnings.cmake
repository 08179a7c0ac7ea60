# dmarcsift_flags: warnings (and sanitizers when asked) for our own targets only.
add_library(dmarcsift_flags INTERFACE)
target_compile_options(dmarcsift_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL "" AND NOT "$ENV{CI}" STREQUAL "false")
  target_compile_options(dmarcsift_flags INTERFACE -Werror)
endif()
set(DMARCSIFT_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(DMARCSIFT_SANITIZE)
  # No recovery: a sanitizer report must fail the test that triggered it.
  target_compile_options(dmarcsift_flags INTERFACE -fsanitize=${DMARCSIFT_SANITIZE}
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(dmarcsift_flags INTERFACE -fsanitize=${DMARCSIFT_SANITIZE})
endif()
