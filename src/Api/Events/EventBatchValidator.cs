using FluentValidation;
using Microsoft.Extensions.Options;

namespace Pipeline.Api.Events;

/// <summary>The envelope rules of a batch; each item is then validated on its own.</summary>
public sealed class EventBatchValidator : AbstractValidator<EventBatch>
{
    /// <summary>Creates the validator with the configured limits.</summary>
    public EventBatchValidator(IOptions<EventLimits> options)
    {
        var max = options.Value.MaxBatchEvents;
        RuleFor(b => b.Events).NotNull().WithMessage("'events' is required: an array of events.")
            .Must(e => e is { Count: > 0 }).WithMessage("'events' must not be empty.")
            .Must(e => e is null || e.Count <= max).WithMessage($"'events' may hold at most {max} events.");
    }
}
