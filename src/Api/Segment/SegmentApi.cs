using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Api.ApiKeys;
using Pipeline.Api.Events;
using Pipeline.Api.Hosting;
using Pipeline.Api.Plans;
using Pipeline.Events;
using Pipeline.Plans;

namespace Pipeline.Api.Segment;

/// <summary>
/// Segment's HTTP Tracking API, so Segment's and RudderStack's libraries and analytics.js send here unmodified
/// (README, "Segment-compatible API"). Every call of a request is accepted, or none is. The endpoints declare no
/// accepted content types: routing would answer 415 to the ones Segment's clients send (text/plain, none, or
/// RudderStack's form type on a gzip body); the OpenAPI document describes the body instead (OpenApiSetup).
/// </summary>
public static class SegmentApi
{
    /// <summary>The CORS policy of the tracking endpoints.</summary>
    public const string CorsPolicy = "tracking";

    /// <summary>Maps /v1/track, identify, page, screen, group, alias, batch and import, with analytics.js's one-letter paths.</summary>
    public static RouteGroupBuilder MapSegmentApi(this IEndpointRouteBuilder app, EventLimits limits)
    {
        var group = app.MapGroup("/v1")
            .WithTags("Segment-compatible tracking")
            .RequireCors(CorsPolicy)
            .AddEndpointFilter<ApiKeyFilter>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        foreach (var call in SegmentMessageValidator.Calls)
        {
            group.MapPost($"/{call}", Handle)
                .WithName($"Segment{char.ToUpperInvariant(call[0])}{call[1..]}")
                .WithSummary($"Segment {call}")
                .WithDescription($"""
                    Segment's `{call}` call ({Required(call)}). Answers 200 `{"success": true}` once the call is queued.
                    The write key is one of your API keys: as the user name of HTTP Basic auth, a `writeKey` field, or `x-api-key`.
                    The body is read as JSON whatever its Content-Type (`text/plain` included, as browsers send it) and may be gzip.
                    At most {limits.MaxEventBytes} bytes. A resend with the same `messageId` is stored once. Also at `/v1/{call[0]}`.
                    """)
                .WithMetadata(new SegmentCall(call));
            group.MapPost($"/{call[0]}", Handle).WithMetadata(new SegmentCall(call)).ExcludeFromDescription();
        }

        group.MapPost("/batch", Handle)
            .WithName("SegmentBatch")
            .WithSummary("Segment batch")
            .WithDescription($"""
                A batch of calls, each with its `type` (what Segment's server libraries send). The batch's `context` and
                `integrations` are merged under each call's own, and its `sentAt` applies to calls without one.
                Every call is validated first: one invalid call makes the batch a 400 that names it, and nothing is queued.
                At most {limits.MaxBatchBytes} bytes, and {limits.MaxEventBytes} bytes a call. Also at `/v1/import` and `/v1/b`.
                """)
            .WithMetadata(new SegmentCall(null));
        foreach (var alias in new[] { "/import", "/b" })
        {
            group.MapPost(alias, Handle).WithMetadata(new SegmentCall(null)).ExcludeFromDescription();
        }
        return group;
    }

    /// <summary>Validates every call of the request, then queues them all.</summary>
    public static async Task<Results<Ok<SegmentSuccess>, ValidationProblem, ProblemHttpResult>> Handle(
        SegmentRequest request, HttpContext context, IValidator<SegmentMessage> validator, SegmentMapper mapper, EventQueueSender buffer, TrackingPlanCache plans)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Problem is { } problem)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: problem);
        }
        var call = context.GetEndpoint()!.Metadata.GetMetadata<SegmentCall>()!;
        var errors = new Dictionary<string, string[]>(request.Errors);
        var messages = new List<SegmentMessage>(request.Messages.Count);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (request.Messages[i] is not { } sent)
            {
                continue;
            }
            var prefix = call.Type is null ? $"batch[{i}]." : "";
            if (call.Type is { } pathType && sent.Type is { } bodyType && bodyType != pathType)
            {
                errors[prefix + "type"] = [$"'type' is '{bodyType}', but this is /v1/{pathType}."];
                continue;
            }
            var message = sent with { Type = sent.Type ?? call.Type, SentAt = sent.SentAt ?? request.Envelope?.SentAt };
            var result = await validator.ValidateAsync(message, context.RequestAborted);
            foreach (var (field, fieldErrors) in result.ToDictionary())
            {
                errors[prefix + field] = fieldErrors;
            }
            messages.Add(message);
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: call.Type is null
                ? "Nothing in the batch was accepted; correct or remove the calls named."
                : null);
        }

        var keyHash = ApiKeyFilter.KeyHash(context);
        // A call the tracking plan refuses is queued too, marked blocked, for the Processor to write to rejected/: Segment's
        // libraries drop a whole batch on a 400, so one blocked call must not cost the others (docs/tracking-plan.md).
        var plan = await plans.CurrentAsync(context.RequestAborted);
        var budget = PlanBudget.StartNew(); // the whole batch's
        QueuedEvent[] queued = [.. messages.Select(m => mapper.Map(m, request.Envelope, keyHash, context))
            .Select(q => q with { Plan = plans.Check(plan, budget, q.EventType, q.Properties, q.Traits).Check })];
        var accepted = queued.Length == 1
            ? [await buffer.SendAsync(queued[0], context.RequestAborted)]
            : await buffer.SendBatchAsync(queued, context.RequestAborted);
        if (accepted.Any(a => !a))
        {
            // The client resends the whole request; the calls already queued are stored once, by their messageId.
            context.Response.Headers.RetryAfter = EventsApi.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
                detail: "The event queue is unavailable. Retry after the Retry-After delay; calls with a messageId are stored once.");
        }
        return TypedResults.Ok(new SegmentSuccess(true));
    }

    private static string Required(string call) => call switch
    {
        "track" => "requires `event` and `userId` or `anonymousId`",
        "group" => "requires `groupId` and `userId` or `anonymousId`",
        "alias" => "requires `previousId` and `userId`",
        _ => "requires `userId` or `anonymousId`",
    };
}

/// <summary>The answer Segment's libraries expect from a successful call.</summary>
/// <param name="Success">Always true.</param>
public sealed record SegmentSuccess(bool Success);
