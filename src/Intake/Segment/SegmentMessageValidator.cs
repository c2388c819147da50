using FluentValidation;
using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.Intake;

/// <summary>
/// The rules of a Segment call (Segment's Spec: the fields each call requires), and everything the events table would
/// refuse. A live call's time is checked after the clock-skew correction, against the same limits as POST /events; an
/// imported message's time as its file recorded it (<see cref="SegmentTime.Recorded"/>), against the import's limits.
/// </summary>
public sealed class SegmentMessageValidator : AbstractValidator<SegmentMessage>
{
    /// <summary>The calls Segment's Spec defines.</summary>
    public static readonly IReadOnlyList<string> Calls = ["track", "identify", "page", "screen", "group", "alias"];

    /// <summary>Longest track event name, in characters.</summary>
    public const int MaxEventName = 200;

    /// <summary>Longest id (userId, anonymousId, messageId, groupId, previousId) and name, in characters.</summary>
    public const int MaxId = 256;

    /// <summary>Creates the validator with the configured limits; <paramref name="imported"/> checks a file's messages.</summary>
    public SegmentMessageValidator(IOptions<EventLimits> options, TimeProvider clock, bool imported = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Value;

        RuleFor(m => m.Type).NotEmpty().WithMessage("'type' is required: one of track, identify, page, screen, group, alias.")
            .Must(t => t is null || Calls.Contains(t)).WithMessage(m => $"'type' must be one of track, identify, page, screen, group, alias (not '{m.Type}').");

        RuleFor(m => m).Must(m => !string.IsNullOrWhiteSpace(m.UserId) || !string.IsNullOrWhiteSpace(m.AnonymousId))
            .OverridePropertyName("userId").WithMessage("At least one of 'userId' and 'anonymousId' is required.");
        RuleFor(m => m.Event).NotEmpty().When(m => m.Type == "track").WithMessage("'event' is required for track: the event's name.");
        RuleFor(m => m.Event).Must(e => !string.IsNullOrWhiteSpace(e)).When(m => m.Type == "track" && !string.IsNullOrEmpty(m.Event))
            .WithMessage("'event' must not be blank.");
        RuleFor(m => m.Event).MaximumLength(MaxEventName).WithMessage($"'event' must be at most {MaxEventName} characters.");
        RuleFor(m => m.GroupId).NotEmpty().When(m => m.Type == "group").WithMessage("'groupId' is required for group.");
        RuleFor(m => m.PreviousId).NotEmpty().When(m => m.Type == "alias").WithMessage("'previousId' is required for alias.");
        RuleFor(m => m.UserId).NotEmpty().When(m => m.Type == "alias").WithMessage("'userId' is required for alias: the user's new id.");

        Text(m => m.UserId, "userId", MaxId);
        Text(m => m.AnonymousId, "anonymousId", MaxId);
        Text(m => m.MessageId, "messageId", MaxId);
        Text(m => m.GroupId, "groupId", MaxId);
        Text(m => m.PreviousId, "previousId", MaxId);
        Text(m => m.Name, "name", MaxId);
        Text(m => m.Category, "category", MaxId);
        Text(m => m.Event, "event", MaxEventName);

        Time(m => m.Timestamp, "timestamp");
        Time(m => m.OriginalTimestamp, "originalTimestamp");
        Time(m => m.SentAt, "sentAt");
        RuleFor(m => m).Custom((message, context) =>
        {
            var now = clock.GetUtcNow();
            var (at, subject) = imported
                ? (SegmentTime.Recorded(message, now), "The message's time")
                : (SegmentTime.OccurredAt(message, now), "The call's time, corrected for clock skew,");
            if (EventRules.TimeProblem(at, now, limits, subject) is { } problem)
            {
                context.AddFailure("timestamp", problem);
            }
        });

        Object(m => m.Properties, "properties", limits.MaxPropertiesDepth);
        Object(m => m.Traits, "traits", limits.MaxPropertiesDepth);
        Object(m => m.Context, "context", limits.MaxPropertiesDepth);
        Object(m => m.Integrations, "integrations", limits.MaxPropertiesDepth);
        RuleFor(m => m.Extra).Custom((extra, context) =>
        {
            foreach (var (name, value) in extra ?? [])
            {
                var problem = name.Length == 0 ? "A field name is empty."
                    : !DynamoDbLimits.IsValidUnicode(name) ? "A field name is not valid Unicode (an unpaired surrogate)."
                    : DynamoDbLimits.Problem(value, name);
                if (problem is not null)
                {
                    context.AddFailure(name.Length == 0 || !DynamoDbLimits.IsValidUnicode(name) ? "call" : name, problem);
                }
            }
        });
    }

    private void Text(System.Linq.Expressions.Expression<Func<SegmentMessage, string?>> field, string name, int max) =>
        RuleFor(field).Custom((value, context) =>
        {
            if (EventRules.TextProblem(value, name, max) is { } problem)
            {
                context.AddFailure(name, problem);
            }
        });

    private void Time(System.Linq.Expressions.Expression<Func<SegmentMessage, string?>> field, string name) =>
        RuleFor(field).Must(v => SegmentTime.TryParse(v, out _))
            .WithMessage($"'{name}' must be an ISO-8601 time with an offset, e.g. 2026-11-24T10:15:00.000Z.");

    private void Object(System.Linq.Expressions.Expression<Func<SegmentMessage, System.Text.Json.JsonElement?>> field, string name, int maxDepth) =>
        RuleFor(field).Custom((value, context) =>
        {
            if (EventRules.ObjectProblem(value, name, maxDepth) is { } problem)
            {
                context.AddFailure(name, problem);
            }
        });
}
