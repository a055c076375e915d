# frozen_string_literal: true

# stomp_ffi: the stomp gem's API over libstomp (a STOMP 1.0/1.1/1.2 client in Rust with a C ABI),
# through the ffi gem. Replace `Stomp::` with `StompFFI::` in a program written for the stomp gem.
#
# The library is found through $STOMP_LIB (a file or a directory), then pkg-config's libdir for
# `stomp`, then the system's library path; the LoadError says which were tried.

require 'digest/sha1'
require 'securerandom'

require_relative 'stomp_ffi/version'
require_relative 'stomp_ffi/native'
require_relative 'stomp_ffi/constants'
require_relative 'stomp_ffi/errors'
require_relative 'stomp_ffi/message'
require_relative 'stomp_ffi/ssl_params'
require_relative 'stomp_ffi/null_logger'
require_relative 'stomp_ffi/params'
require_relative 'stomp_ffi/log_router'
require_relative 'stomp_ffi/handle'
require_relative 'stomp_ffi/connection'
require_relative 'stomp_ffi/client'
