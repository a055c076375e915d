# frozen_string_literal: true

require_relative 'lib/stomp_ffi/version'

Gem::Specification.new do |s|
  s.name = 'stomp_ffi'
  s.version = StompFFI::VERSION
  s.summary = "The stomp gem's API over libstomp (STOMP 1.0/1.1/1.2 in Rust) through ffi"
  s.description = 'StompFFI::Connection, Client and Message with the API of the stomp gem, over the ' \
                  'libstomp shared library: a drop-in for programs written for the stomp gem ' \
                  '(replace Stomp:: with StompFFI::).'
  s.authors = ['libstomp developers']
  s.license = 'MIT'
  s.files = Dir['lib/**/*.rb'] + Dir['examples/*'] + Dir['test/*.rb'] + ['README.md', 'stomp_ffi.gemspec']
  s.require_paths = ['lib']
  s.required_ruby_version = '>= 2.7'
  s.add_runtime_dependency 'ffi', '>= 1.15'
  s.requirements << 'libstomp.so (0.x, x >= 1): $STOMP_LIB, pkg-config stomp, or the system library path'
end
