#include "hw/i8042.h"

#include <algorithm>
#include <array>
#include <utility>

namespace janus {

namespace {

constexpr uint8_t kAck = 0xfa;
constexpr uint8_t kResend = 0xfe;
constexpr uint8_t kSelfTestPassed = 0xaa;
// A device holds at most this many bytes for the controller; a guest that never reads cannot
// make Janus grow without bound.
constexpr size_t kMaxDeviceQueue = 64;

// Command byte bits.
constexpr uint8_t kCmdKeyboardIrq = 0x01, kCmdAuxIrq = 0x02, kCmdSystemFlag = 0x04;
constexpr uint8_t kCmdKeyboardDisabled = 0x10, kCmdAuxDisabled = 0x20, kCmdTranslate = 0x40;

// Status register bits.
constexpr uint8_t kStatusOutputFull = 0x01, kStatusSystemFlag = 0x04, kStatusLastWasCommand = 0x08;
constexpr uint8_t kStatusNotInhibited = 0x10, kStatusAuxData = 0x20;

// Set-2 make code -> set-1 make code, one line per key of a PC keyboard (set-1 order).
constexpr std::pair<uint8_t, uint8_t> kSet2ToSet1Keys[] = {
    {0x76, 0x01},  // Esc
    {0x16, 0x02}, {0x1e, 0x03}, {0x26, 0x04}, {0x25, 0x05}, {0x2e, 0x06},  // 1 2 3 4 5
    {0x36, 0x07}, {0x3d, 0x08}, {0x3e, 0x09}, {0x46, 0x0a}, {0x45, 0x0b},  // 6 7 8 9 0
    {0x4e, 0x0c}, {0x55, 0x0d}, {0x66, 0x0e}, {0x0d, 0x0f},                // - = Backspace Tab
    {0x15, 0x10}, {0x1d, 0x11}, {0x24, 0x12}, {0x2d, 0x13}, {0x2c, 0x14},  // Q W E R T
    {0x35, 0x15}, {0x3c, 0x16}, {0x43, 0x17}, {0x44, 0x18}, {0x4d, 0x19},  // Y U I O P
    {0x54, 0x1a}, {0x5b, 0x1b}, {0x5a, 0x1c}, {0x14, 0x1d},                // [ ] Enter LCtrl
    {0x1c, 0x1e}, {0x1b, 0x1f}, {0x23, 0x20}, {0x2b, 0x21}, {0x34, 0x22},  // A S D F G
    {0x33, 0x23}, {0x3b, 0x24}, {0x42, 0x25}, {0x4b, 0x26},                // H J K L
    {0x4c, 0x27}, {0x52, 0x28}, {0x0e, 0x29}, {0x12, 0x2a}, {0x5d, 0x2b},  // ; ' ` LShift backslash
    {0x1a, 0x2c}, {0x22, 0x2d}, {0x21, 0x2e}, {0x2a, 0x2f}, {0x32, 0x30},  // Z X C V B
    {0x31, 0x31}, {0x3a, 0x32}, {0x41, 0x33}, {0x49, 0x34}, {0x4a, 0x35},  // N M , . /
    {0x59, 0x36}, {0x7c, 0x37}, {0x11, 0x38}, {0x29, 0x39}, {0x58, 0x3a},  // RShift KP* LAlt Space Caps
    {0x05, 0x3b}, {0x06, 0x3c}, {0x04, 0x3d}, {0x0c, 0x3e}, {0x03, 0x3f},  // F1-F5
    {0x0b, 0x40}, {0x83, 0x41}, {0x0a, 0x42}, {0x01, 0x43}, {0x09, 0x44},  // F6-F10 (F7 is 0x83)
    {0x77, 0x45}, {0x7e, 0x46},                                            // NumLock ScrollLock
    {0x6c, 0x47}, {0x75, 0x48}, {0x7d, 0x49}, {0x7b, 0x4a},                // KP7 KP8 KP9 KP-
    {0x6b, 0x4b}, {0x73, 0x4c}, {0x74, 0x4d}, {0x79, 0x4e},                // KP4 KP5 KP6 KP+
    {0x69, 0x4f}, {0x72, 0x50}, {0x7a, 0x51}, {0x70, 0x52}, {0x71, 0x53},  // KP1 KP2 KP3 KP0 KP.
    {0x84, 0x54},                                                          // Alt+SysRq
    {0x61, 0x56}, {0x78, 0x57}, {0x07, 0x58},                              // 102nd key, F11, F12
    {0x1f, 0x5b}, {0x27, 0x5c}, {0x2f, 0x5d},                              // (E0) LGUI RGUI Menu
    {0x37, 0x5e}, {0x3f, 0x5f}, {0x5e, 0x63},                              // (E0) Power Sleep Wake
    {0x13, 0x70}, {0x51, 0x73}, {0x64, 0x79}, {0x67, 0x7b}, {0x6a, 0x7d},  // Japanese keys
    {0x00, 0xff},                                                          // key detection error
    // Not a key: the keyboard's answer "set 2" to F0 00 reads 0x41 through the translator.
    {0x02, 0x41},
};

constexpr std::array<uint8_t, 256> make_set1_table() {
  std::array<uint8_t, 256> t{};
  for (unsigned i = 0x80; i < 256; ++i) t[i] = uint8_t(i);  // prefixes and replies pass unchanged
  for (auto [set2, set1] : kSet2ToSet1Keys) t[set2] = set1;
  return t;
}
constexpr std::array<uint8_t, 256> kSet1Table = make_set1_table();

}  // namespace

uint8_t set2_to_set1(uint8_t set2) { return kSet1Table[set2]; }

// ---------------------------------------------------------------------------------------------
// Keyboard

void Ps2Keyboard::reset() {
  out_.clear();
  pending_command_ = 0;
  last_sent_ = kAck;
  scanning_ = true;
  leds_ = 0;
  defaults();
}

void Ps2Keyboard::defaults() {
  scan_set_ = 2;
  typematic_ = 0x2b;  // 10.9 characters/s after 500 ms
}

void Ps2Keyboard::reply(uint8_t byte) {
  if (out_.size() < kMaxDeviceQueue) out_.push_back(byte);
  last_sent_ = byte;
}

uint8_t Ps2Keyboard::pop() {
  if (out_.empty()) return 0;
  uint8_t b = out_.front();
  out_.pop_front();
  return b;
}

void Ps2Keyboard::command(uint8_t byte) {
  if (uint8_t cmd = std::exchange(pending_command_, 0)) {
    switch (cmd) {
      case 0xed:  // set LEDs
        leds_ = byte & 0x07;
        reply(kAck);
        return;
      case 0xf3:  // typematic rate/delay
        typematic_ = byte & 0x7f;
        reply(kAck);
        return;
      case 0xf0:  // scan code set: 0 asks, 1 and 2 select; set 3 is not implemented
        if (byte == 0) {
          reply(kAck);
          reply(uint8_t(scan_set_));
        } else if (byte == 1 || byte == 2) {
          scan_set_ = byte;
          reply(kAck);
        } else {
          reply(kResend);
        }
        return;
    }
  }
  switch (byte) {
    case 0xed:
    case 0xf3:
    case 0xf0:
      pending_command_ = byte;
      reply(kAck);
      break;
    case 0xee:  // echo
      reply(0xee);
      break;
    case 0xf2:  // identify: an MF2 keyboard
      reply(kAck);
      reply(0xab);
      reply(0x83);
      break;
    case 0xf4:  // enable scanning; the keyboard empties its buffer
      out_.clear();
      scanning_ = true;
      reply(kAck);
      break;
    case 0xf5:  // disable scanning and restore defaults
      out_.clear();
      defaults();
      scanning_ = false;
      reply(kAck);
      break;
    case 0xf6:  // restore defaults
      out_.clear();
      defaults();
      reply(kAck);
      break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa:  // set-3 key types: no effect in sets 1 and 2
      reply(kAck);
      break;
    case 0xfe: {  // resend the last byte
      uint8_t last = last_sent_;
      reply(last);
      break;
    }
    case 0xff:  // reset and self-test
      out_.clear();
      pending_command_ = 0;
      scanning_ = true;
      leds_ = 0;
      defaults();
      reply(kAck);
      reply(kSelfTestPassed);
      break;
    default:
      reply(kResend);
      break;
  }
}

void Ps2Keyboard::key_event(std::span<const uint8_t> set2) {
  if (!scanning_ || set2.empty()) return;
  if (out_.size() + set2.size() > kMaxDeviceQueue) {
    // Buffer overrun: the keyboard sends its error code in place of the key (once).
    const uint8_t overrun = scan_set_ == 1 ? 0xff : 0x00;
    if (out_.empty() || out_.back() != overrun) out_.push_back(overrun);
    return;
  }
  if (scan_set_ == 2) {
    out_.insert(out_.end(), set2.begin(), set2.end());
    return;
  }
  bool release = false;
  for (uint8_t b : set2) {
    if (b == 0xf0) {
      release = true;
      continue;
    }
    uint8_t code = set2_to_set1(b);
    if (code == 0) continue;
    out_.push_back(release && code < 0x80 ? uint8_t(code | 0x80) : code);
    release = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Mouse

void Ps2Mouse::reset() {
  out_.clear();
  pending_command_ = 0;
  last_sent_ = kAck;
  buttons_ = 0;
  defaults();
}

void Ps2Mouse::defaults() {
  enabled_ = false;
  remote_mode_ = false;
  wrap_mode_ = false;
  scaling_2to1_ = false;
  resolution_ = 2;
  sample_rate_ = 100;
}

void Ps2Mouse::reply(uint8_t byte) {
  if (out_.size() < kMaxDeviceQueue) out_.push_back(byte);
  last_sent_ = byte;
}

uint8_t Ps2Mouse::pop() {
  if (out_.empty()) return 0;
  uint8_t b = out_.front();
  out_.pop_front();
  return b;
}

void Ps2Mouse::command(uint8_t byte) {
  if (wrap_mode_ && byte != 0xec && byte != 0xff) {
    reply(byte);  // wrap (echo) mode returns everything but "reset wrap" and "reset"
    return;
  }
  if (uint8_t cmd = std::exchange(pending_command_, 0)) {
    if (cmd == 0xe8) resolution_ = byte & 0x03;
    if (cmd == 0xf3) sample_rate_ = byte;
    reply(kAck);
    return;
  }
  switch (byte) {
    case 0xff:
      reset();
      reply(kAck);
      reply(kSelfTestPassed);
      reply(0x00);  // device id
      break;
    case 0xfe: {
      uint8_t last = last_sent_;
      reply(last);
      break;
    }
    case 0xf6:
      defaults();
      reply(kAck);
      break;
    case 0xf5:
      enabled_ = false;
      reply(kAck);
      break;
    case 0xf4:
      enabled_ = true;
      reply(kAck);
      break;
    case 0xf3:  // sample rate
    case 0xe8:  // resolution
      pending_command_ = byte;
      reply(kAck);
      break;
    case 0xf2:  // get device id: a plain PS/2 mouse
      reply(kAck);
      reply(0x00);
      break;
    case 0xf0:
      remote_mode_ = true;
      reply(kAck);
      break;
    case 0xee:
      wrap_mode_ = true;
      reply(kAck);
      break;
    case 0xec:
      wrap_mode_ = false;
      reply(kAck);
      break;
    case 0xeb:  // read data (remote mode poll)
      reply(kAck);
      push_packet(0, 0);
      break;
    case 0xea:
      remote_mode_ = false;
      reply(kAck);
      break;
    case 0xe9: {  // status request
      uint8_t status = uint8_t((remote_mode_ ? 0x40 : 0) | (enabled_ ? 0x20 : 0) | (scaling_2to1_ ? 0x10 : 0) |
                               ((buttons_ & 1) ? 0x04 : 0) | ((buttons_ & 4) ? 0x02 : 0) | ((buttons_ & 2) ? 0x01 : 0));
      reply(kAck);
      reply(status);
      reply(resolution_);
      reply(sample_rate_);
      break;
    }
    case 0xe7:
      scaling_2to1_ = true;
      reply(kAck);
      break;
    case 0xe6:
      scaling_2to1_ = false;
      reply(kAck);
      break;
    default:
      reply(kResend);
      break;
  }
}

void Ps2Mouse::push_packet(int dx, int dy) {
  if (out_.size() + 3 > kMaxDeviceQueue) return;  // never tear a packet
  out_.push_back(uint8_t(0x08 | (buttons_ & 0x07) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0)));
  out_.push_back(uint8_t(dx & 0xff));
  out_.push_back(uint8_t(dy & 0xff));
}

void Ps2Mouse::movement(int dx, int dy, unsigned buttons) {
  // Button bits: host order (left, right, middle) is also the packet's order.
  buttons_ = buttons & 0x07;
  if (!enabled_ || remote_mode_ || wrap_mode_) return;
  // PS/2 counts up as positive. Clamp first so hostile values cannot overflow the negation.
  long long x = std::clamp<long long>(dx, -(1 << 20), 1 << 20);
  long long y = -std::clamp<long long>(dy, -(1 << 20), 1 << 20);
  // A packet carries 9-bit deltas; larger motions become several packets while there is room.
  do {
    int px = int(std::clamp<long long>(x, -255, 255));
    int py = int(std::clamp<long long>(y, -255, 255));
    if (out_.size() + 3 > kMaxDeviceQueue) break;
    push_packet(px, py);
    x -= px;
    y -= py;
  } while (x != 0 || y != 0);
}

// ---------------------------------------------------------------------------------------------
// Controller

I8042::I8042(IrqLine keyboard_irq, IrqLine aux_irq, std::function<void()> on_reset)
    : keyboard_irq_(keyboard_irq), aux_irq_(aux_irq), on_reset_(std::move(on_reset)) {
  reset();
}

void I8042::reset() {
  std::fill(std::begin(ram_), std::end(ram_), uint8_t(0));
  ram_[0] = kCommandByteAtReset;
  output_port_ = 0xcf;
  output_full_ = false;
  output_byte_ = 0;
  output_source_ = Source::kController;
  controller_out_.clear();
  pending_command_ = 0;
  last_write_was_command_ = false;
  translate_break_ = false;
  keyboard_.reset();
  mouse_.reset();
  update_irqs();
}

uint64_t I8042::Port::read(uint64_t offset, unsigned size) {
  if (offset != 0) return 0xff;
  return is_command_ ? owner_.read_status() : owner_.read_data();
}

void I8042::Port::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset != 0) return;
  if (is_command_)
    owner_.write_command(uint8_t(value));
  else
    owner_.write_data(uint8_t(value));
}

uint8_t I8042::read_status() const {
  uint8_t s = kStatusNotInhibited;
  if (output_full_) s |= kStatusOutputFull;
  if (output_full_ && output_source_ == Source::kAux) s |= kStatusAuxData;
  if (ram_[0] & kCmdSystemFlag) s |= kStatusSystemFlag;
  if (last_write_was_command_) s |= kStatusLastWasCommand;
  return s;
}

uint8_t I8042::read_data() {
  if (!output_full_) return output_byte_;  // an empty buffer reads as the last byte
  const uint8_t value = output_byte_;
  output_full_ = false;
  // Drop the line before the next byte arrives so edge-triggered controllers see a new edge.
  update_irqs();
  refill_output_buffer();
  return value;
}

void I8042::write_data(uint8_t value) {
  last_write_was_command_ = false;
  const uint8_t command = std::exchange(pending_command_, 0);
  switch (command) {
    case 0:
      keyboard_.command(value);
      break;
    case 0xd1:
      write_output_port(value);
      break;
    case 0xd2:  // as if the keyboard had sent it
      controller_reply(value, Source::kKeyboard);
      break;
    case 0xd3:  // as if the mouse had sent it
      controller_reply(value, Source::kAux);
      break;
    case 0xd4:
      mouse_.command(value);
      break;
    default:  // 0x60-0x7f: write controller RAM; byte 0 is the command byte
      ram_[command & 0x1f] = value;
      break;
  }
  refill_output_buffer();
}

void I8042::write_command(uint8_t value) {
  last_write_was_command_ = true;
  pending_command_ = 0;
  if (value >= 0x20 && value <= 0x3f) {
    controller_reply(ram_[value & 0x1f]);
  } else if (value >= 0x60 && value <= 0x7f) {
    pending_command_ = value;
  } else if (value >= 0xf0) {
    // Pulse the output-port lines whose bits are 0 in the command; bit 0 is the CPU reset line.
    if (!(value & 0x01) && on_reset_) on_reset_();
  } else {
    switch (value) {
      case 0xa4: controller_reply(0xf1); break;  // no password installed
      case 0xa7: ram_[0] |= kCmdAuxDisabled; break;
      case 0xa8: ram_[0] &= uint8_t(~kCmdAuxDisabled); break;
      case 0xa9: controller_reply(0x00); break;  // aux interface test: OK
      case 0xaa:                                 // controller self-test
        ram_[0] |= kCmdSystemFlag;
        controller_reply(0x55);
        break;
      case 0xab: controller_reply(0x00); break;  // keyboard interface test: OK
      case 0xad: ram_[0] |= kCmdKeyboardDisabled; break;
      case 0xae: ram_[0] &= uint8_t(~kCmdKeyboardDisabled); break;
      case 0xd0: {
        uint8_t port = output_port_ & 0xcf;
        if (output_full_ && output_source_ != Source::kAux) port |= 0x10;
        if (output_full_ && output_source_ == Source::kAux) port |= 0x20;
        controller_reply(port);
        break;
      }
      case 0xd1: case 0xd2: case 0xd3: case 0xd4:
        pending_command_ = value;
        break;
      case 0xe0: controller_reply(0x00); break;  // test inputs: clock and data lines low
      default: break;                            // vendor commands: ignored, as many chips do
    }
  }
  refill_output_buffer();
}

void I8042::write_output_port(uint8_t value) {
  const bool a20_before = a20_enabled();
  output_port_ = value;
  if (a20_enabled() != a20_before && on_a20_) on_a20_(a20_enabled());
  if (!(value & 0x01) && on_reset_) on_reset_();  // bit 0 drives the CPU reset line
}

void I8042::controller_reply(uint8_t byte, Source as) {
  if (controller_out_.size() < kMaxDeviceQueue) controller_out_.push_back({byte, as});
}

void I8042::key_event(std::span<const uint8_t> set2_bytes) {
  keyboard_.key_event(set2_bytes);
  refill_output_buffer();
}

void I8042::mouse_event(int dx, int dy, unsigned buttons) {
  mouse_.movement(dx, dy, buttons);
  refill_output_buffer();
}

void I8042::refill_output_buffer() {
  while (!output_full_) {
    if (!controller_out_.empty()) {
      output_byte_ = controller_out_.front().byte;
      output_source_ = controller_out_.front().source;
      controller_out_.pop_front();
      output_full_ = true;
    } else if (!(ram_[0] & kCmdKeyboardDisabled) && keyboard_.has_output()) {
      uint8_t byte = keyboard_.pop();
      if (ram_[0] & kCmdTranslate) {
        if (byte == 0xf0) {
          translate_break_ = true;  // the break prefix vanishes into bit 7 of the next code
          continue;
        }
        uint8_t code = set2_to_set1(byte);
        if (code == 0) {
          translate_break_ = false;
          continue;
        }
        if (std::exchange(translate_break_, false)) code |= 0x80;
        byte = code;
      }
      output_byte_ = byte;
      output_source_ = Source::kKeyboard;
      output_full_ = true;
    } else if (!(ram_[0] & kCmdAuxDisabled) && mouse_.has_output()) {
      output_byte_ = mouse_.pop();
      output_source_ = Source::kAux;
      output_full_ = true;
    } else {
      break;
    }
  }
  update_irqs();
}

void I8042::update_irqs() {
  const bool keyboard = output_full_ && output_source_ != Source::kAux && (ram_[0] & kCmdKeyboardIrq);
  const bool aux = output_full_ && output_source_ == Source::kAux && (ram_[0] & kCmdAuxIrq);
  if (keyboard != keyboard_irq_level_) {
    keyboard_irq_level_ = keyboard;
    keyboard_irq_.set(keyboard);
  }
  if (aux != aux_irq_level_) {
    aux_irq_level_ = aux;
    aux_irq_.set(aux);
  }
}

}  // namespace janus
