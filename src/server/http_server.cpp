#include "server/http_server.h"

#include <fmt/core.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "util/error.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace dsv4::server {

std::string HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

namespace {

using Strand = net::strand<net::io_context::executor_type>;

std::string head(int status, const Headers& headers, bool keep_alive) {
  std::string reason(http::obsolete_reason(static_cast<http::status>(status)));
  std::string h = fmt::format("HTTP/1.1 {} {}\r\n", status, reason.empty() ? "Status" : reason);
  for (const auto& [k, v] : headers) h += fmt::format("{}: {}\r\n", k, v);
  h += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  return h;
}

std::string error_json(std::string_view message, std::string_view type) {
  // Kept free of the JSON library: messages here are fixed ASCII texts.
  return fmt::format(R"({{"error":{{"message":"{}","type":"{}","param":null,"code":null}}}})",
                     message, type);
}

// What stop_accepting() tells every open connection: close unless a request is being answered.
struct Drainable {
  virtual ~Drainable() = default;
  virtual void drain() = 0;
};

}  // namespace

struct HttpServer::Impl {
  HttpOptions opt;
  Handler handler;
  // Declared before the io_context: connections still queued in it when it is destroyed update
  // these on their way out.
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopping{false};  // draining: answer what is in flight, keep nothing alive
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Drainable>> sessions;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;

  Impl(HttpOptions o, Handler h)
      : opt(std::move(o)),
        handler(std::move(h)),
        ioc(std::max(1, opt.io_threads)),
        work(net::make_work_guard(ioc)),
        acceptor(ioc) {}
  void accept();
};

namespace {

class Session : public Drainable, public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl& srv, tcp::socket socket, Strand strand)
      : srv_(srv), strand_(std::move(strand)), stream_(std::move(socket)) {
    srv_.connections++;
  }
  ~Session() { srv_.connections--; }

  void start(bool refuse) {
    net::dispatch(strand_, [self = shared_from_this(), refuse] {
      if (refuse) {
        self->keep_alive_ = false;
        self->exchange_open_ = true;
        self->respond(503, "application/json",
                      error_json("too many connections", "server_overloaded"),
                      {{"Retry-After", "1"}});
        return;
      }
      self->do_read();
    });
  }

  void drain() override {
    net::post(strand_, [self = shared_from_this()] {
      if (!self->exchange_open_) self->close();
    });
  }

  // ---- called through Exchange, on the strand ----
  void respond(int status, std::string ctype, std::string body, const Headers& extra) {
    if (closed_ || !exchange_open_ || started_) return;
    started_ = true;
    Headers h = extra;
    h.emplace_back("Content-Type", std::move(ctype));
    h.emplace_back("Content-Length", std::to_string(body.size()));
    std::string out = head(status, h, keep_alive_);
    out += "\r\n";
    out += body;
    ending_ = true;
    enqueue(std::move(out));
  }
  void start_stream(int status, std::string ctype, const Headers& extra) {
    if (closed_ || !exchange_open_ || started_) return;
    started_ = true;
    streaming_ = true;
    Headers h = extra;
    h.emplace_back("Content-Type", std::move(ctype));
    h.emplace_back("Cache-Control", "no-cache");
    h.emplace_back("X-Accel-Buffering", "no");
    h.emplace_back("Transfer-Encoding", "chunked");
    enqueue(head(status, h, keep_alive_) + "\r\n");
  }
  void send(std::string data) {
    if (closed_ || !exchange_open_ || !streaming_ || ending_ || data.empty()) return;
    std::string chunk = fmt::format("{:x}\r\n", data.size());
    chunk += data;
    chunk += "\r\n";
    enqueue(std::move(chunk));
    // A client that stopped reading: its output would pile up here without bound.
    if (pending_bytes_ > srv_.opt.max_pending_bytes) close();
  }
  void end_stream() {
    if (closed_ || !exchange_open_ || !streaming_ || ending_) return;
    ending_ = true;
    enqueue("0\r\n\r\n");
  }
  void set_on_disconnect(std::function<void()> f) {
    if (closed_) {
      if (f) f();
      return;
    }
    if (exchange_open_) on_disconnect_ = std::move(f);
  }
  bool is_closed() const { return closed_; }
  uint64_t serial() const { return serial_; }
  Strand& strand() { return strand_; }

 private:
  void do_read() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(srv_.opt.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(srv_.opt.max_header_bytes));
    stream_.expires_after(
        std::chrono::seconds(served_ ? srv_.opt.idle_timeout_s : srv_.opt.read_timeout_s));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec) {
      keep_alive_ = false;
      if (ec == http::error::body_limit)
        return refuse(
            413, fmt::format("the request body is larger than {} bytes", srv_.opt.max_body_bytes));
      if (ec == http::error::header_limit)
        return refuse(431, fmt::format("the request headers are larger than {} bytes",
                                       srv_.opt.max_header_bytes));
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message)
        return refuse(400, "malformed HTTP request: " + ec.message());
      return close();  // EOF, reset or read timeout
    }
    served_ = true;
    auto& m = parser_->get();
    HttpRequest req;
    req.method = std::string(m.method_string());
    req.target = std::string(m.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& f : m) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(m.body());
    keep_alive_ = m.keep_alive() && !srv_.stopping;
    open_exchange();
    watch();
    auto ex = make_exchange();
    try {
      srv_.handler(req, ex);
    } catch (const std::exception& e) {
      respond(500, "application/json", error_json("internal error", "server_error"), {});
    }
  }

  void refuse(int status, const std::string& message) {
    open_exchange();
    respond(status, "application/json", error_json(message, "invalid_request_error"), {});
  }

  void open_exchange() {
    stream_.expires_never();
    ++serial_;
    exchange_open_ = true;
    started_ = streaming_ = ending_ = false;
    on_disconnect_ = nullptr;
  }

  std::shared_ptr<Responder> make_exchange();

  // Watches the socket while a request is answered: EOF or an error means the client is gone.
  void watch() {
    watching_ = true;
    stream_.socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this()](beast::error_code ec) { self->on_watch(ec); });
  }

  void on_watch(beast::error_code ec) {
    watching_ = false;
    if (closed_) return;
    if (ec == net::error::operation_aborted) {
      if (resume_read_) {
        resume_read_ = false;
        do_read();
      }
      return;
    }
    if (ec) return close();
    char c;
    const ssize_t r = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) return close();  // orderly shutdown by the client
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return close();
    if (r > 0) return;  // a pipelined request: read after this exchange (no more watching)
    if (exchange_open_) watch();
  }

  void enqueue(std::string s) {
    pending_bytes_ += s.size();
    outq_.push_back(std::move(s));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_) return;
    if (outq_.empty()) {
      writing_ = false;
      if (ending_) finish_exchange();
      return;
    }
    writing_ = true;
    wbuf_.clear();
    for (auto& s : outq_) wbuf_ += s;
    outq_.clear();
    stream_.expires_after(std::chrono::seconds(srv_.opt.write_timeout_s));
    net::async_write(stream_, net::buffer(wbuf_),
                     [self = shared_from_this()](beast::error_code ec, size_t n) {
                       self->pending_bytes_ -= std::min(n, self->pending_bytes_);
                       if (ec) return self->close();
                       self->write_next();
                     });
  }

  void finish_exchange() {
    exchange_open_ = false;
    on_disconnect_ = nullptr;
    stream_.expires_never();
    if (!keep_alive_ || srv_.stopping) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return close();
    }
    if (watching_) {
      resume_read_ = true;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    } else {
      do_read();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (exchange_open_ && on_disconnect_) {
      auto f = std::move(on_disconnect_);
      on_disconnect_ = nullptr;
      f();
    }
    outq_.clear();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  HttpServer::Impl& srv_;
  Strand strand_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  uint64_t serial_ = 0;
  bool served_ = false;  // at least one request read (later ones get the idle timeout)
  bool keep_alive_ = true;
  bool exchange_open_ = false, started_ = false, streaming_ = false, ending_ = false;
  bool watching_ = false, resume_read_ = false, writing_ = false, closed_ = false;
  std::function<void()> on_disconnect_;
  std::deque<std::string> outq_;
  std::string wbuf_;
  size_t pending_bytes_ = 0;
};

// The Responder of one request: forwards to its connection's strand, and turns into a no-op once
// that request is over (a late call can never write into the next request's response).
class Exchange : public Responder {
 public:
  Exchange(std::shared_ptr<Session> s, uint64_t serial) : s_(std::move(s)), serial_(serial) {}
  void reply(int status, std::string ctype, std::string body, Headers headers) override {
    run([=, this, ctype = std::move(ctype), body = std::move(body),
         headers = std::move(headers)]() mutable {
      s_->respond(status, std::move(ctype), std::move(body), headers);
    });
  }
  void start_stream(int status, std::string ctype, Headers headers) override {
    run([=, this, ctype = std::move(ctype), headers = std::move(headers)]() mutable {
      s_->start_stream(status, std::move(ctype), headers);
    });
  }
  void send(std::string data) override {
    run([this, data = std::move(data)]() mutable { s_->send(std::move(data)); });
  }
  void end() override {
    run([this] { s_->end_stream(); });
  }
  void on_disconnect(std::function<void()> f) override {
    run([this, f = std::move(f)]() mutable {
      gone_flag_->store(false);
      auto flag = gone_flag_;
      s_->set_on_disconnect([flag, f = std::move(f)] {
        flag->store(true);
        if (f) f();
      });
    });
  }
  bool disconnected() const override { return gone_flag_->load(); }

 private:
  template <typename F>
  void run(F&& f) {
    if (s_->strand().running_in_this_thread()) {
      if (s_->serial() == serial_) f();
      return;
    }
    net::post(s_->strand(), [keep = shared_from_self(), f = std::forward<F>(f)]() mutable {
      auto* self = static_cast<Exchange*>(keep.get());
      if (self->s_->serial() == self->serial_) f();
    });
  }
  std::shared_ptr<Responder> shared_from_self() { return self_.lock(); }

 public:
  std::weak_ptr<Responder> self_;

 private:
  std::shared_ptr<Session> s_;
  uint64_t serial_;
  std::shared_ptr<std::atomic<bool>> gone_flag_ = std::make_shared<std::atomic<bool>>(false);
};

std::shared_ptr<Responder> Session::make_exchange() {
  auto ex = std::make_shared<Exchange>(shared_from_this(), serial_);
  ex->self_ = ex;
  return ex;
}

}  // namespace

void HttpServer::Impl::accept() {
  auto strand = net::make_strand(ioc);
  acceptor.async_accept(strand, [this, strand](beast::error_code ec, tcp::socket socket) mutable {
    if (!ec) {
      const bool refuse = connections.load() >= opt.max_connections;
      auto s = std::make_shared<Session>(*this, std::move(socket), strand);
      {
        std::lock_guard<std::mutex> lock(sessions_mu);
        std::erase_if(sessions, [](const auto& w) { return w.expired(); });
        sessions.push_back(s);
      }
      s->start(refuse);
    }
    if (acceptor.is_open()) accept();
  });
}

HttpServer::HttpServer(HttpOptions opt, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(opt), std::move(handler))) {
  Impl& m = *impl_;
  beast::error_code ec;
  tcp::resolver resolver(m.ioc);
  auto results =
      resolver.resolve(m.opt.host, std::to_string(m.opt.port), tcp::resolver::passive, ec);
  if (ec || results.empty())
    fail("cannot resolve listen address '{}': {}", m.opt.host, ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  m.acceptor.open(ep.protocol(), ec);
  if (!ec) m.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on {}:{}: {}", m.opt.host, m.opt.port, ec.message());
  m.accept();
}

HttpServer::~HttpServer() {
  stop();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::run() {
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, impl_->opt.io_threads); ++i)
    threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void HttpServer::stop_accepting() {
  net::post(impl_->ioc, [this] {
    impl_->stopping = true;
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    std::lock_guard<std::mutex> lock(impl_->sessions_mu);
    for (auto& w : impl_->sessions)
      if (auto s = w.lock()) s->drain();
  });
}

void HttpServer::stop() {
  impl_->work.reset();
  impl_->ioc.stop();
}

size_t HttpServer::open_connections() const {
  return impl_->connections.load();
}

void HttpServer::post(std::function<void()> f) {
  net::post(impl_->ioc, std::move(f));
}

}  // namespace dsv4::server
