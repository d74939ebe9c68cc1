// The HTTP/1.1 transport: Boost.Beast parses requests, everything else is ours. Connections live
// on a few I/O threads (one strand each); handlers run on the connection's strand and answer
// through a Responder, at once or later from any thread (the compute thread streams through it).
//
// While a request is being answered, the connection watches its socket: when the client goes
// away (EOF or reset) the Responder's disconnect callback fires at once, so the request can be
// cancelled and its state returned. Slow clients are cut off: a request that does not arrive
// within read_timeout, a write that does not drain within write_timeout, or more than
// max_pending_bytes of unsent stream output all close the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dsv4::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0 = any free port (see HttpServer::port())
  int io_threads = 2;
  size_t max_body_bytes = 32u << 20;
  size_t max_header_bytes = 16u << 10;
  int read_timeout_s = 30;   // a whole request must arrive within this
  int idle_timeout_s = 120;  // a kept-alive connection may wait this long for its next request
  int write_timeout_s = 60;  // one write must drain within this
  size_t max_pending_bytes = 8u << 20;  // unsent stream output before the client counts as gone
  size_t max_connections = 1024;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent, with any query
  std::string path;    // target without the query
  Headers headers;     // names in lower case
  std::string body;
  std::string header(std::string_view lower_name) const;  // "" when absent
};

// Answers one request. Every method is thread-safe; calls after the connection is gone are no-ops.
class Responder {
 public:
  virtual ~Responder() = default;
  // A complete response.
  virtual void reply(int status, std::string content_type, std::string body,
                     Headers headers = {}) = 0;
  // A chunked response whose pieces follow with send() and end with end().
  virtual void start_stream(int status, std::string content_type, Headers headers = {}) = 0;
  virtual void send(std::string data) = 0;
  virtual void end() = 0;
  // Called once, from an I/O thread, if the client disconnects before the response is complete.
  // Set it before handing the Responder to another thread.
  virtual void on_disconnect(std::function<void()> f) = 0;
  virtual bool disconnected() const = 0;
};

using Handler = std::function<void(const HttpRequest&, std::shared_ptr<Responder>)>;

class HttpServer {
 public:
  // Binds and listens (throws dsv4::Error naming the address when it cannot).
  HttpServer(HttpOptions opt, Handler handler);
  ~HttpServer();
  uint16_t port() const;
  // Runs the I/O threads; returns after stop().
  void run();
  // Closes the listening socket; open connections go on.
  void stop_accepting();
  // Stops the I/O threads (open connections are closed).
  void stop();
  size_t open_connections() const;
  // Calls f on an I/O thread (for timers and signal handling outside the handlers).
  void post(std::function<void()> f);

  struct Impl;  // (public so the connection code in http_server.cpp can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv4::server
