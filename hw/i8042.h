// The 8042 keyboard controller with a PS/2 keyboard and a PS/2 mouse behind it.
// Port 0x60 is data and 0x64 status/command, but 0x61 between them belongs to another device,
// so the controller exposes two IoDevice objects, each mapped with length 1.
// Everything runs on the vCPU thread; the UI queues host key/mouse events to that thread.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <span>

#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

// The 8042's set-2 to set-1 translation of one byte (0xF0, the break prefix, is the caller's
// business). Returns 0 for set-2 codes no PC key sends; set 1 has no code 0.
uint8_t set2_to_set1(uint8_t set2);

// The PS/2 keyboard: answers the host-to-keyboard command set and queues scan codes (set 2,
// or set 1 when the guest selects it). Bytes wait here until the controller takes them.
class Ps2Keyboard {
 public:
  void reset();
  void command(uint8_t byte);                       // a byte the guest sent to the keyboard
  void key_event(std::span<const uint8_t> set2);   // one key's make or break sequence, set 2
  bool has_output() const { return !out_.empty(); }
  uint8_t pop();
  bool scanning() const { return scanning_; }
  unsigned scan_code_set() const { return scan_set_; }
  uint8_t leds() const { return leds_; }

 private:
  void reply(uint8_t byte);
  void defaults();

  std::deque<uint8_t> out_;
  uint8_t pending_command_ = 0;  // command waiting for its parameter byte, or 0
  uint8_t last_sent_ = 0xfa;     // for 0xFE (resend)
  bool scanning_ = true;
  unsigned scan_set_ = 2;
  uint8_t leds_ = 0;
  uint8_t typematic_ = 0x2b;
};

// The PS/2 mouse on the aux port: stream mode, 3-byte packets, no wheel.
class Ps2Mouse {
 public:
  void reset();
  void command(uint8_t byte);
  // dx > 0 moves right, dy > 0 moves down (host screen convention); buttons bit 0 left,
  // bit 1 right, bit 2 middle.
  void movement(int dx, int dy, unsigned buttons);
  bool has_output() const { return !out_.empty(); }
  uint8_t pop();

 private:
  void reply(uint8_t byte);
  void defaults();
  void push_packet(int dx, int dy);

  std::deque<uint8_t> out_;
  uint8_t pending_command_ = 0;
  uint8_t last_sent_ = 0xfa;
  bool enabled_ = false;
  bool remote_mode_ = false;
  bool wrap_mode_ = false;
  bool scaling_2to1_ = false;
  uint8_t resolution_ = 2;     // 4 counts/mm
  uint8_t sample_rate_ = 100;
  unsigned buttons_ = 0;
};

class I8042 {
 public:
  // The state firmware leaves before an OS loads: keyboard and aux interrupts on, system flag
  // set, set-1 translation on (so code that reads port 0x60 directly sees set 1).
  static constexpr uint8_t kCommandByteAtReset = 0x47;

  // keyboard_irq is ISA IRQ 1, aux_irq IRQ 12. on_reset is called when the guest pulses the
  // CPU reset line (command 0xFE and friends, or output-port bit 0 written as 0).
  I8042(IrqLine keyboard_irq, IrqLine aux_irq, std::function<void()> on_reset);

  IoDevice& data_port() { return data_port_; }        // map at 0x60, length 1
  IoDevice& command_port() { return command_port_; }  // map at 0x64, length 1

  // Called when the guest changes the A20 gate (output port bit 1).
  void set_a20_listener(std::function<void(bool enabled)> listener) { on_a20_ = std::move(listener); }

  void reset();

  // Host input: one key's set-2 bytes (e.g. {0x1c} make, {0xf0, 0x1c} break, {0xe0, 0x75}).
  void key_event(std::span<const uint8_t> set2_bytes);
  void mouse_event(int dx, int dy, unsigned buttons);

  uint8_t read_data();
  uint8_t read_status() const;
  void write_data(uint8_t value);
  void write_command(uint8_t value);

  uint8_t command_byte() const { return ram_[0]; }
  bool a20_enabled() const { return output_port_ & 0x02; }
  const Ps2Keyboard& keyboard() const { return keyboard_; }

 private:
  enum class Source { kController, kKeyboard, kAux };

  class Port final : public IoDevice {
   public:
    Port(I8042& owner, bool is_command) : owner_(owner), is_command_(is_command) {}
    uint64_t read(uint64_t offset, unsigned size) override;
    void write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    I8042& owner_;
    bool is_command_;
  };

  void controller_reply(uint8_t byte, Source as = Source::kController);
  void refill_output_buffer();
  void update_irqs();
  void write_output_port(uint8_t value);

  IrqLine keyboard_irq_;
  IrqLine aux_irq_;
  std::function<void()> on_reset_;
  std::function<void(bool)> on_a20_;
  Port data_port_{*this, false};
  Port command_port_{*this, true};
  Ps2Keyboard keyboard_;
  Ps2Mouse mouse_;

  uint8_t ram_[32] = {};            // ram_[0] is the command byte
  uint8_t output_port_ = 0xcf;      // bit 0 reset line (1 = run), bit 1 A20
  bool output_full_ = false;
  uint8_t output_byte_ = 0;
  Source output_source_ = Source::kController;
  struct Queued {
    uint8_t byte;
    Source source;
  };
  std::deque<Queued> controller_out_;   // controller replies go before device bytes
  uint8_t pending_command_ = 0;         // controller command waiting for a data byte, or 0
  bool last_write_was_command_ = false;
  bool translate_break_ = false;        // an 0xF0 seen by the translator
  bool keyboard_irq_level_ = false;
  bool aux_irq_level_ = false;
};

}  // namespace janus
