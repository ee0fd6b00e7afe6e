// Placeholder until the server lands.
#include "encore/serve.h"
namespace encore {
Result<std::unique_ptr<Server>> Server::Create(std::unique_ptr<Store>, const ServeOptions&) {
  return Status::FailedPrecondition("server not built yet");
}
}  // namespace encore
