using Microsoft.Extensions.Options;

namespace Pipeline.Api.Hosting;

// The options' data annotations (and IValidatableObject), checked by code the options source generator writes at build
// time: ValidateDataAnnotations would read them by reflection at start.

/// <summary>Validates <see cref="QueueOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class QueueOptionsValidator : IValidateOptions<QueueOptions>;

/// <summary>Validates <see cref="ApiKeyOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class ApiKeyOptionsValidator : IValidateOptions<ApiKeyOptions>;

/// <summary>Validates <see cref="PlanOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class PlanOptionsValidator : IValidateOptions<PlanOptions>;

/// <summary>Validates <see cref="EventLimits"/>.</summary>
[OptionsValidator]
internal sealed partial class EventLimitsValidator : IValidateOptions<EventLimits>;

/// <summary>Validates <see cref="ProxyOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class ProxyOptionsValidator : IValidateOptions<ProxyOptions>;

/// <summary>Validates <see cref="TrackingOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class TrackingOptionsValidator : IValidateOptions<TrackingOptions>;
