# frozen_string_literal: true

module StompFFI
  # The logger used when none is given, as Stomp::NullLogger: silent except on_miscerr, which
  # prints to standard error.
  class NullLogger
    def on_miscerr(parms, error_msg)
      $stderr.print "\non_miscerr\n#{parms.inspect}\n#{error_msg}\n"
    end
  end
end
