// Errors the HTTP API returns, in OpenAI's shape:
//   {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}
// Everything the server refuses goes through ApiError, so every refusal carries a status, a
// machine-readable type/code and, for a bad parameter, the parameter's name.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace dsv4 {
class Error;
}

namespace dsv4::server {

struct ApiError : std::runtime_error {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string param;      // "" = null
  std::string code;       // "" = null
  int retry_after_s = 0;  // > 0: sent as a Retry-After header (429 / 503)

  ApiError(int status, std::string message, std::string type, std::string param = {},
           std::string code = {});
};

// 400 invalid_request_error naming `param`.
ApiError bad_request(std::string message, std::string param = {}, std::string code = {});

// A dsv4::Error from the request normaliser or SamplingParams::validate() as a 400. The
// parameter is taken from the message's leading path ("messages[2].content: ..." → the path;
// "sampling: top_k = ..." → "top_k"; "request body: ..." → none).
ApiError from_error(const dsv4::Error& e);

// The JSON body for an error.
nlohmann::json error_body(const ApiError& e);

}  // namespace dsv4::server
