# frozen_string_literal: true

# The gem's version, and the libstomp versions it works with.
module StompFFI
  VERSION = '0.1.0'

  # libstomp's SONAME is libstomp.so.0: the gem binds major version 0 from this minor version on
  # (minor versions only add functions, so a newer 0.x library works too).
  LIBSTOMP_MAJOR = 0
  LIBSTOMP_MIN_MINOR = 1
end
