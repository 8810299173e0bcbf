#include "app/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

namespace janus {

// ---------------------------------------------------------------------------------------------
// Escape keys

EscapeParser::Command EscapeParser::feed(uint8_t byte, std::vector<uint8_t>& to_guest) {
  if (!escape_pending_) {
    if (byte == kEscapeKey)
      escape_pending_ = true;
    else
      to_guest.push_back(byte);
    return Command::kNone;
  }
  escape_pending_ = false;
  switch (byte) {
    case 'x':
    case 'X':
      return Command::kQuit;
    case 'h':
    case 'H':
    case '?':
      return Command::kHelp;
    case kEscapeKey:
      to_guest.push_back(kEscapeKey);
      return Command::kNone;
    default:
      return Command::kNone;
  }
}

const char* EscapeParser::help_text() {
  return "\r\n"
         "C-a h    print this help\r\n"
         "C-a x    exit Janus\r\n"
         "C-a C-a  send C-a to the guest\r\n";
}

// ---------------------------------------------------------------------------------------------
// Restoring the host tty on every way out

namespace {

constexpr int kFatalSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV, SIGABRT, SIGBUS, SIGFPE};
constexpr size_t kSignalCount = std::size(kFatalSignals);

// A signal handler and an atexit function reach the saved settings only through statics, so this
// one piece of state is process-wide; a second raw Terminal at the same time is refused.
struct TtyRestoreState {
  std::atomic<bool> owned{false};  // a Terminal holds the tty in raw mode
  std::atomic<bool> armed{false};  // original must be written back (cleared by whoever does it)
  int fd = -1;
  termios original{};
  struct sigaction previous[kSignalCount] = {};
  bool installed[kSignalCount] = {};
};
TtyRestoreState g_tty;

// Async-signal-safe: an atomic exchange and tcsetattr.
void restore_tty() noexcept {
  if (g_tty.armed.exchange(false)) tcsetattr(g_tty.fd, TCSANOW, &g_tty.original);
}

void on_fatal_signal(int sig) {
  restore_tty();
  // Die as the signal would have killed us (exit status, core dump), now with a sane terminal.
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_signal_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    struct sigaction old {};
    g_tty.installed[i] = false;
    if (sigaction(kFatalSignals[i], nullptr, &old) != 0) continue;
    // Leave ignored signals ignored and other owners' handlers (e.g. a SIGSEGV-based soft MMU)
    // in place: only the default action would skip the restore.
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction ours {};
    ours.sa_handler = on_fatal_signal;
    sigemptyset(&ours.sa_mask);
    ours.sa_flags = SA_ONSTACK;
    if (sigaction(kFatalSignals[i], &ours, &g_tty.previous[i]) == 0) g_tty.installed[i] = true;
  }
}

void uninstall_signal_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (!g_tty.installed[i]) continue;
    g_tty.installed[i] = false;
    struct sigaction current {};
    // Someone may have installed a handler over ours since; theirs stays.
    if (sigaction(kFatalSignals[i], nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == on_fatal_signal)
      sigaction(kFatalSignals[i], &g_tty.previous[i], nullptr);
  }
}

// Raw input: no echo, no line editing, no signals from Ctrl-C/Ctrl-Z/Ctrl-\ (they are the
// guest's), no CR/NL rewriting or flow control; output bytes go to the screen unchanged.
termios raw_settings(termios t) {
  t.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_oflag &= ~tcflag_t(OPOST);
  t.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~tcflag_t(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  return t;
}

void enter_raw_mode(int fd) {
  termios original{};
  if (tcgetattr(fd, &original) != 0)
    throw std::runtime_error(std::string("terminal: tcgetattr on input failed: ") + std::strerror(errno));
  if (g_tty.owned.exchange(true)) throw std::runtime_error("terminal: the host tty is already in raw mode");
  g_tty.fd = fd;
  g_tty.original = original;
  g_tty.armed.store(true);
  static std::once_flag atexit_once;
  std::call_once(atexit_once, [] { std::atexit([] { restore_tty(); }); });
  install_signal_handlers();
  termios raw = raw_settings(original);
  if (tcsetattr(fd, TCSANOW, &raw) != 0) {
    int err = errno;
    restore_tty();
    uninstall_signal_handlers();
    g_tty.owned.store(false);
    throw std::runtime_error(std::string("terminal: tcsetattr (raw mode) failed: ") + std::strerror(err));
  }
}

void leave_raw_mode() {
  restore_tty();
  uninstall_signal_handlers();
  g_tty.owned.store(false);
}

void write_all(int fd, const uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n > 0) {
      done += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Someone made the fd non-blocking: wait a little for room rather than spin.
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 1000) <= 0) return;
    } else {
      return;  // output is gone: the bytes are dropped and the guest runs on
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Terminal

Terminal::Terminal(InputCallback on_input, std::function<void()> on_quit, int input_fd, int output_fd)
    : on_input_(std::move(on_input)), on_quit_(std::move(on_quit)), input_fd_(input_fd), output_fd_(output_fd) {
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string("terminal: pipe2 failed: ") + std::strerror(errno));
  wake_read_.reset(wake[0]);
  wake_write_.reset(wake[1]);

  if (isatty(input_fd_)) {
    enter_raw_mode(input_fd_);
    raw_mode_ = true;
  }
  try {
    input_thread_ = std::thread([this] { input_loop(); });
  } catch (const std::system_error& e) {
    if (raw_mode_) leave_raw_mode();
    throw std::runtime_error(std::string("terminal: cannot start the input thread: ") + e.what());
  }
}

Terminal::~Terminal() {
  const uint8_t wake = 1;
  while (::write(wake_write_.get(), &wake, 1) < 0 && errno == EINTR) {
  }
  if (input_thread_.joinable()) input_thread_.join();
  if (raw_mode_) leave_raw_mode();
}

void Terminal::write(std::span<const uint8_t> bytes) { write_all(output_fd_, bytes.data(), bytes.size()); }

void Terminal::input_loop() {
  EscapeParser parser;
  std::vector<uint8_t> to_guest;
  uint8_t buffer[512];
  for (;;) {
    pollfd fds[2] = {{input_fd_, POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;                       // destruction
    if (fds[0].revents & POLLNVAL) break;            // input fd closed under us
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::read(input_fd_, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // end of input: the guest keeps running without it

    to_guest.clear();
    for (ssize_t i = 0; i < n; ++i) {
      switch (parser.feed(buffer[i], to_guest)) {
        case EscapeParser::Command::kNone:
          break;
        case EscapeParser::Command::kHelp: {
          const char* help = EscapeParser::help_text();
          write_all(STDERR_FILENO, reinterpret_cast<const uint8_t*>(help), std::strlen(help));
          break;
        }
        case EscapeParser::Command::kQuit:
          if (!to_guest.empty() && on_input_) on_input_(to_guest);
          if (on_quit_) on_quit_();
          input_closed_.store(true);
          return;
      }
    }
    if (!to_guest.empty() && on_input_) on_input_(to_guest);
  }
  input_closed_.store(true);
}

}  // namespace janus
