using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pipeline.Api.ApiKeys;
using Pipeline.Api.Hosting;
using Pipeline.Api.Plans;
using Pipeline.Events;
using Pipeline.Plans;

namespace Pipeline.Api.Events;

/// <summary>The ingestion endpoints.</summary>
public static class EventsApi
{
    /// <summary>Seconds a client should wait before retrying when the queue is unavailable.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>Maps POST /events and POST /events/batch, both behind the API key.</summary>
    public static RouteGroupBuilder MapEventsApi(this IEndpointRouteBuilder app, EventLimits limits)
    {
        var group = app.MapGroup("/events")
            .WithTags("Events")
            .AddEndpointFilter<ApiKeyFilter>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPost("/", PostEvent)
            .WithName("PostEvent")
            .WithSummary("Send one event")
            .WithDescription($"""
                Validates, enriches and enqueues one event; answers 202 with the eventId it is stored under.
                Limits: at most {limits.MaxEventBytes} bytes of JSON; `properties` nested at most {limits.MaxPropertiesDepth} deep;
                `occurredAt` at most {limits.MaxClockSkew} ahead and {limits.MaxEventAge.TotalDays:0.#} days back.
                Send the same `eventId` (or `Idempotency-Key` header) again to retry safely: it is stored once.
                With a tracking plan in block mode, an event that breaks it is a 400 naming each violation (docs/tracking-plan.md).
                """)
            .WithMetadata(new RequestSizeLimitAttribute(limits.MaxEventBytes))
            .AddEndpointFilter<ValidationFilter<IncomingEvent>>();

        group.MapPost("/batch", PostBatch)
            .WithName("PostEventBatch")
            .WithSummary("Send a batch of events")
            .WithDescription($"""
                Validates each event on its own, enqueues the valid ones, and answers 202 with one result per item, in order.
                A batch where every item is invalid is a 400. Limits: at most {limits.MaxBatchEvents} events and {limits.MaxBatchBytes} bytes;
                each event as for POST /events ({limits.MaxEventBytes} bytes); an event a tracking plan blocks is an invalid item.
                """)
            .WithMetadata(new RequestSizeLimitAttribute(limits.MaxBatchBytes))
            .AddEndpointFilter<ValidationFilter<EventBatch>>();

        return group;
    }

    /// <summary>POST /events.</summary>
    public static async Task<Results<Accepted<AcceptedEvent>, ValidationProblem, ProblemHttpResult>> PostEvent(
        IncomingEvent incoming, HttpContext context, EventEnricher enricher, EventQueueSender buffer, TrackingPlanCache plans,
        [FromHeader(Name = EventEnricher.IdempotencyKeyHeader)] string? idempotencyKey = null)
    {
        if (idempotencyKey is not null)
        {
            if (!EventIds.Pattern().IsMatch(idempotencyKey))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    [EventEnricher.IdempotencyKeyHeader] = ["The Idempotency-Key header must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -"],
                });
            }
            if (incoming.EventId is not null && incoming.EventId != idempotencyKey)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["eventId"] = ["'eventId' and the Idempotency-Key header differ; send one, or the same value in both."],
                });
            }
        }
        var (check, blocked) = plans.Check(await plans.CurrentAsync(context.RequestAborted), PlanBudget.StartNew(), incoming.EventType!, incoming.Properties, null);
        if (blocked)
        {
            return TypedResults.ValidationProblem(PlanChecks.Errors(check!), title: "The event breaks the tracking plan",
                detail: "The tracking plan refuses events that break it (its mode is block); nothing was queued.");
        }
        var queued = enricher.Enrich(incoming, context, idempotencyKey) with { Plan = check };
        if (!await buffer.SendAsync(queued, context.RequestAborted))
        {
            return Unavailable(context);
        }
        return TypedResults.Accepted((string?)null, new AcceptedEvent(queued.EventId));
    }

    /// <summary>POST /events/batch.</summary>
    public static async Task<Results<Accepted<BatchResult>, ProblemHttpResult>> PostBatch(
        EventBatch batch, HttpContext context, IValidator<IncomingEvent> validator, EventEnricher enricher, EventQueueSender buffer, TrackingPlanCache plans)
    {
        if (context.Request.Headers.ContainsKey(EventEnricher.IdempotencyKeyHeader))
        {
            // One key cannot name many events; silently ignoring it would make retries unsafe.
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: "The Idempotency-Key header applies to POST /events only; give each event of a batch its own eventId.");
        }
        var items = batch.Events!;
        var plan = await plans.CurrentAsync(context.RequestAborted);
        var budget = PlanBudget.StartNew(); // the whole batch's
        var results = new BatchItemResult[items.Count];
        var valid = new List<(int Index, QueuedEvent Event)>();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is not { } item)
            {
                results[i] = new(i, "invalid", null, new Dictionary<string, string[]> { ["event"] = ["The item is null; each item must be an event object."] });
                continue;
            }
            var validation = await validator.ValidateAsync(item, context.RequestAborted);
            if (!validation.IsValid)
            {
                results[i] = new(i, "invalid", null, validation.ToDictionary());
                continue;
            }
            var (check, blocked) = plans.Check(plan, budget, item.EventType!, item.Properties, null);
            if (blocked)
            {
                results[i] = new(i, "invalid", null, PlanChecks.Errors(check!));
                continue;
            }
            valid.Add((i, enricher.Enrich(item, context) with { Plan = check }));
        }

        var accepted = await buffer.SendBatchAsync([.. valid.Select(v => v.Event)], context.RequestAborted);
        for (var j = 0; j < valid.Count; j++)
        {
            var (index, queued) = valid[j];
            results[index] = new(index, accepted[j] ? "accepted" : "unavailable", queued.EventId, null);
        }

        var result = new BatchResult(accepted.Count(a => a), items.Count - valid.Count, accepted.Count(a => !a), results);
        if (valid.Count == 0)
        {
            return BatchProblem(result, StatusCodes.Status400BadRequest, "Every event in the batch is invalid",
                "No event was accepted; see each item's errors.");
        }
        if (result.Unavailable > 0)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return result.Accepted == 0
            ? BatchProblem(result, StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                "The event queue is unavailable; no event was accepted. Retry the items marked unavailable after the Retry-After delay.")
            : TypedResults.Accepted((string?)null, result);
    }

    private static ProblemHttpResult BatchProblem(BatchResult result, int status, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Extensions =
            {
                ["accepted"] = result.Accepted,
                ["rejected"] = result.Rejected,
                ["unavailable"] = result.Unavailable,
                ["items"] = result.Items,
            },
        });

    private static ProblemHttpResult Unavailable(HttpContext context)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
            detail: "The event queue is unavailable; the event was not accepted. Retry after the Retry-After delay.");
    }
}
