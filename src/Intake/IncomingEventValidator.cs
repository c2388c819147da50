using System.Globalization;
using System.Text;
using FluentValidation;
using Microsoft.Extensions.Options;
using Pipeline.Events;

namespace Pipeline.Intake;

/// <summary>The rules of an incoming event; messages name the field.</summary>
public sealed partial class IncomingEventValidator : AbstractValidator<IncomingEvent>
{
    /// <summary>Creates the validator with the configured limits.</summary>
    public IncomingEventValidator(IOptions<EventLimits> options, TimeProvider clock)
    {
        var limits = options.Value;

        RuleFor(e => e.EventType).NotEmpty().WithMessage("'eventType' is required.")
            .MaximumLength(64).WithMessage("'eventType' must be at most 64 characters.")
            .Matches(EventTypePattern()).WithMessage("'eventType' must start with a letter and contain only letters, digits, '_', '.', ':' or '-'.");

        RuleFor(e => e).Must(e => !string.IsNullOrWhiteSpace(e.UserId) || !string.IsNullOrWhiteSpace(e.AnonymousId))
            .OverridePropertyName("userId").WithMessage("At least one of 'userId' and 'anonymousId' is required.");
        Text(e => e.UserId, "userId", 128);
        Text(e => e.AnonymousId, "anonymousId", 128);

        RuleFor(e => e.EventId!).Matches(EventIds.Pattern()).When(e => e.EventId is not null)
            .WithMessage("'eventId' must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -");

        RuleFor(e => e.OccurredAt!).Custom((value, context) =>
        {
            if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) || !HasOffset(value))
            {
                context.AddFailure("occurredAt", "'occurredAt' must be an ISO-8601 time with an offset, e.g. 2026-11-24T10:15:00Z.");
                return;
            }
            if (EventRules.TimeProblem(at, clock.GetUtcNow(), limits, "'occurredAt'") is { } problem)
            {
                context.AddFailure("occurredAt", problem);
            }
        }).When(e => e.OccurredAt is not null);

        RuleFor(e => e.Properties).Custom((value, context) =>
        {
            if (EventRules.ObjectProblem(value, "properties", limits.MaxPropertiesDepth) is { } problem)
            {
                context.AddFailure("properties", problem);
            }
        });

        RuleFor(e => e).Must(e => Size(e) <= limits.MaxEventBytes)
            .OverridePropertyName("event").WithMessage($"The event is larger than {limits.MaxEventBytes} bytes of JSON.");
    }

    /// <summary>The event's size as JSON, in bytes: its values plus the field names and punctuation (without re-serializing it).</summary>
    public static int Size(IncomingEvent e) =>
        100 + Bytes(e.EventType) + Bytes(e.UserId) + Bytes(e.AnonymousId) + Bytes(e.OccurredAt) + Bytes(e.EventId)
        + (e.Properties is { } p ? System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(p).Length : 0);

    private static int Bytes(string? value) => value is null ? 0 : Encoding.UTF8.GetByteCount(value);

    /// <summary>Whether an ISO-8601 time ends in an offset (<c>Z</c> or <c>±hh:mm</c>).</summary>
    public static bool HasOffset(string value) => value.EndsWith('Z') || value.EndsWith('z') || OffsetPattern().IsMatch(value);

    private void Text(System.Linq.Expressions.Expression<Func<IncomingEvent, string?>> field, string name, int max) =>
        RuleFor(field).Custom((value, context) =>
        {
            if (EventRules.TextProblem(value, name, max) is { } problem)
            {
                context.AddFailure(name, problem);
            }
        });

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z][A-Za-z0-9_.:-]*$")]
    private static partial System.Text.RegularExpressions.Regex EventTypePattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"[+-]\d{2}:?\d{2}$")]
    private static partial System.Text.RegularExpressions.Regex OffsetPattern();
}
