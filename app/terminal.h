// The host side of "-serial stdio": raw-mode stdin feeding the guest, guest output to stdout,
// and QEMU's -nographic escape keys (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h helps).
#pragma once
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>
#include <vector>

namespace janus {

// The Ctrl-A escape state machine, apart from any I/O so it can be tested byte by byte.
class EscapeParser {
 public:
  static constexpr uint8_t kEscapeKey = 0x01;  // Ctrl-A
  enum class Command { kNone, kQuit, kHelp };

  // Feeds one byte typed on the host; bytes meant for the guest are appended to to_guest.
  // An escape followed by an unknown key is swallowed, as QEMU does.
  Command feed(uint8_t byte, std::vector<uint8_t>& to_guest);

  static const char* help_text();  // "\r\n" line ends: the terminal is raw when it is shown

 private:
  bool escape_pending_ = false;
};

class Terminal {
 public:
  using InputCallback = std::function<void(std::span<const uint8_t> bytes)>;

  // If input_fd is a tty it is put in raw mode until destruction (and restored on exit() and on
  // fatal signals too); otherwise its settings are not touched. A thread reads input_fd and calls
  // on_input with the bytes for the guest, and on_quit after Ctrl-A x; both run on that thread.
  // Throws std::runtime_error if the tty cannot be configured or the thread cannot start.
  Terminal(InputCallback on_input, std::function<void()> on_quit, int input_fd = STDIN_FILENO,
           int output_fd = STDOUT_FILENO);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Guest output, unchanged, written at once. Safe from any one thread at a time.
  void write(uint8_t byte) { write(std::span<const uint8_t>(&byte, 1)); }
  void write(std::span<const uint8_t> bytes);

  bool raw_mode() const { return raw_mode_; }
  // True once the input thread has stopped: end of input, a read error, or after Ctrl-A x.
  bool input_closed() const { return input_closed_.load(); }

 private:
  // Owns one file descriptor.
  class OwnedFd {
   public:
    explicit OwnedFd(int fd = -1) : fd_(fd) {}
    ~OwnedFd() {
      if (fd_ >= 0) ::close(fd_);
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int get() const { return fd_; }
    void reset(int fd) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = fd;
    }

   private:
    int fd_;
  };

  void input_loop();

  InputCallback on_input_;
  std::function<void()> on_quit_;
  int input_fd_;
  int output_fd_;
  bool raw_mode_ = false;
  OwnedFd wake_read_;  // self-pipe: a byte written to wake_write_ ends the input thread's poll()
  OwnedFd wake_write_;
  std::atomic<bool> input_closed_{false};
  std::thread input_thread_;
};

}  // namespace janus
