# frozen_string_literal: true

module StompFFI
  # The stomp gem's protocol constants that applications use.
  SPL_10 = '1.0'
  SPL_11 = '1.1'
  SPL_12 = '1.2'
  SUPPORTED = [SPL_10, SPL_11, SPL_12].freeze
  UTF8 = 'UTF-8'

  CMD_CONNECTED = 'CONNECTED'
  CMD_MESSAGE = 'MESSAGE'
  CMD_RECEIPT = 'RECEIPT'
  CMD_ERROR = 'ERROR'
end
