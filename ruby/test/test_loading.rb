# frozen_string_literal: true

require_relative 'test_helper'
require 'open3'
require 'rbconfig'
require 'tmpdir'

# How the gem finds libstomp, and what it says when it cannot.
class TestLoading < Minitest::Test
  LIB = File.expand_path('../lib', __dir__)

  def setup
    skip 'StompFFI loading' if GEM_MODE
  end

  def run_ruby(env, code)
    Timeout.timeout(30) { Open3.capture2e(env, RbConfig.ruby, '-I', LIB, '-e', code) }
  end

  # The packed blocks of stomp_frame_packed / stomp_frame_headers_packed: empty strings kept,
  # a trailing one included, every String UTF-8.
  def test_packed_blocks_keep_empty_strings
    parts = StompFFI::Native.nul_terminated("a\0\0b\0\0".b)
    assert_equal ['a', '', 'b', ''], parts
    assert(parts.all? { |p| p.encoding == Encoding::UTF_8 })
    assert_equal [], StompFFI::Native.nul_terminated(''.b)
  end

  def test_version_checked_and_source_reported
    assert_match(/\A0\.\d+\.\d+/, StompFFI::Native::LIB_VERSION)
    from, path = StompFFI::Native::LOADED_FROM
    assert File.exist?(path) || path.start_with?('libstomp'), "loaded from #{path} (#{from})"
  end

  def test_a_bad_stomp_lib_is_named_in_the_error_or_skipped_for_the_next
    out, status = run_ruby({ 'STOMP_LIB' => '/nonexistent/libstomp.so', 'PKG_CONFIG_PATH' => '/nonexistent',
                             'PKG_CONFIG_LIBDIR' => '/nonexistent', 'LD_LIBRARY_PATH' => '' },
                           "require 'stomp_ffi'; p StompFFI::Native::LOADED_FROM")
    if status.success?
      # libstomp is installed on the system path: the bad STOMP_LIB was passed over for it.
      assert_match(/system library path/, out)
    else
      assert_match(%r{/nonexistent/libstomp\.so \(from STOMP_LIB\)}, out)
      assert_match(/libstomp\.so\.0 \(from the system library path\)/, out)
      assert_match(/Set STOMP_LIB/, out)
    end
  end

  def test_found_through_pkg_config
    dir = File.dirname(StompFFI::Native::LOADED_FROM[1])
    skip 'libstomp was not loaded from a file path' unless File.exist?(File.join(dir, 'libstomp.so'))
    skip 'pkg-config is not installed' unless system('pkg-config --version', out: File::NULL, err: File::NULL)
    Dir.mktmpdir do |pc|
      File.write(File.join(pc, 'stomp.pc'), "libdir=#{dir}\nName: stomp\nDescription: t\nVersion: 0.1.0\nLibs: -L${libdir} -lstomp\n")
      out, status = run_ruby({ 'STOMP_LIB' => nil, 'PKG_CONFIG_PATH' => pc },
                             "require 'stomp_ffi'; print StompFFI::Native::LOADED_FROM.inspect")
      assert status.success?, out
      assert_includes out, %(["pkg-config --variable=libdir stomp", "#{File.join(dir, 'libstomp.so')}"])
    end
  end

  def test_stomp_lib_may_name_a_directory
    dir = File.dirname(StompFFI::Native::LOADED_FROM[1])
    skip 'libstomp was not loaded from a file path' unless File.directory?(dir) && File.exist?(File.join(dir, 'libstomp.so'))
    out, status = run_ruby({ 'STOMP_LIB' => dir }, "require 'stomp_ffi'; print StompFFI::Native::LOADED_FROM.inspect")
    assert status.success?, out
    assert_includes out, %(["STOMP_LIB", "#{File.join(dir, 'libstomp.so')}"])
  end
end
