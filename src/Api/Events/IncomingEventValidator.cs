using System.Globalization;
using System.Text;
using System.Text.Json;
using FluentValidation;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.Storage;

namespace Pipeline.Api.Events;

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
        RuleFor(e => e.UserId).MaximumLength(128).WithMessage("'userId' must be at most 128 characters.")
            .Must(v => v is null || DynamoDbLimits.IsValidUnicode(v)).WithMessage("'userId' is not valid Unicode (an unpaired surrogate).");
        RuleFor(e => e.AnonymousId).MaximumLength(128).WithMessage("'anonymousId' must be at most 128 characters.")
            .Must(v => v is null || DynamoDbLimits.IsValidUnicode(v)).WithMessage("'anonymousId' is not valid Unicode (an unpaired surrogate).");

        RuleFor(e => e.EventId!).Matches(IdPattern()).When(e => e.EventId is not null)
            .WithMessage("'eventId' must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -");

        RuleFor(e => e.OccurredAt!).Custom((value, context) =>
        {
            if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) || !HasOffset(value))
            {
                context.AddFailure("occurredAt", "'occurredAt' must be an ISO-8601 time with an offset, e.g. 2026-11-24T10:15:00Z.");
                return;
            }
            var now = clock.GetUtcNow();
            if (at > now + limits.MaxClockSkew)
            {
                context.AddFailure("occurredAt", $"'occurredAt' is in the future (more than {limits.MaxClockSkew} ahead).");
            }
            else if (at < now - limits.MaxEventAge)
            {
                context.AddFailure("occurredAt", $"'occurredAt' is older than the limit of {limits.MaxEventAge.TotalDays:0.#} days.");
            }
        }).When(e => e.OccurredAt is not null);

        RuleFor(e => e.Properties).Custom((value, context) =>
        {
            if (ObjectProblem(value, "properties", limits.MaxPropertiesDepth) is { } problem)
            {
                context.AddFailure("properties", problem);
            }
        });

        RuleFor(e => e).Must(e => Size(e) <= limits.MaxEventBytes)
            .OverridePropertyName("event").WithMessage($"The event is larger than {limits.MaxEventBytes} bytes of JSON.");
    }

    /// <summary>The event's size as JSON, in bytes: its values plus the field names and punctuation (without re-serializing it).</summary>
    internal static int Size(IncomingEvent e) =>
        100 + Bytes(e.EventType) + Bytes(e.UserId) + Bytes(e.AnonymousId) + Bytes(e.OccurredAt) + Bytes(e.EventId)
        + (e.Properties is { } p ? System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(p).Length : 0);

    private static int Bytes(string? value) => value is null ? 0 : Encoding.UTF8.GetByteCount(value);

    /// <summary>Whether an ISO-8601 time ends in an offset (<c>Z</c> or <c>±hh:mm</c>).</summary>
    internal static bool HasOffset(string value) => value.EndsWith('Z') || value.EndsWith('z') || OffsetPattern().IsMatch(value);

    /// <summary>Why an optional JSON object field cannot be accepted (not an object, too deep, not storable), or null.</summary>
    internal static string? ObjectProblem(JsonElement? value, string name, int maxDepth)
    {
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            return $"'{name}' must be a JSON object.";
        }
        if (Depth(element) > maxDepth)
        {
            return $"'{name}' is nested deeper than {maxDepth} levels.";
        }
        // Accepted must mean storable: refuse here what the events table would refuse later.
        return DynamoDbLimits.Problem(element, name);
    }

    private static int Depth(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => 1 + element.EnumerateObject().Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
        JsonValueKind.Array => 1 + element.EnumerateArray().Select(Depth).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z][A-Za-z0-9_.:-]*$")]
    private static partial System.Text.RegularExpressions.Regex EventTypePattern();

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    internal static partial System.Text.RegularExpressions.Regex IdPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"[+-]\d{2}:?\d{2}$")]
    private static partial System.Text.RegularExpressions.Regex OffsetPattern();
}

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
