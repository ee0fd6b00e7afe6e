// Placeholder until publish lands.
#include "encore/publish.h"
namespace encore {
Result<PublishReport> Publish(const TrainedModel&, const PublishOptions&, Store*, Progress*) {
  return Status::FailedPrecondition("publish not built yet");
}
}  // namespace encore
