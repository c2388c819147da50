using Microsoft.Extensions.Options;

namespace Pipeline.Api.Hosting;

// The options' data annotations (and IValidatableObject), checked by code the options source generator writes at build
// time: ValidateDataAnnotations would read them by reflection at start. One validator for each options type, named for it.

[OptionsValidator] internal sealed partial class QueueOptionsValidator : IValidateOptions<QueueOptions>;
[OptionsValidator] internal sealed partial class ApiKeyOptionsValidator : IValidateOptions<ApiKeyOptions>;
[OptionsValidator] internal sealed partial class PlanOptionsValidator : IValidateOptions<PlanOptions>;
[OptionsValidator] internal sealed partial class EventLimitsValidator : IValidateOptions<EventLimits>;
[OptionsValidator] internal sealed partial class ProxyOptionsValidator : IValidateOptions<ProxyOptions>;
[OptionsValidator] internal sealed partial class TrackingOptionsValidator : IValidateOptions<TrackingOptions>;
