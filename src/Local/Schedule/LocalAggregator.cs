using System.Globalization;
using System.Text.Json;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Lambda;
using Pipeline.Summaries;

namespace Pipeline.Local.Schedule;

/// <summary>The Aggregator function on the local Lambda, invoked at the window's cadence as its EventBridge schedule would invoke it.</summary>
public static class LocalAggregator
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "AggregatorFunction";

    /// <summary>How long after a window ends it is counted locally: the Processor lags the API by about a second here, so a short settle time is enough.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    /// <summary>The local window length: <c>PIPELINE_SUMMARY_WINDOW</c> (whole minutes as a TimeSpan, such as 00:05:00), default one minute.</summary>
    public static TimeSpan Window(Func<string, string?>? read = null)
    {
        var text = (read ?? Environment.GetEnvironmentVariable)("PIPELINE_SUMMARY_WINDOW");
        if (string.IsNullOrEmpty(text))
        {
            return TimeSpan.FromMinutes(1);
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var window)
            && window >= TimeSpan.FromMinutes(1) && window <= TimeSpan.FromDays(1) && window.Seconds == 0 && window.Milliseconds == 0
            ? window
            : throw new InvalidOperationException($"PIPELINE_SUMMARY_WINDOW must be whole minutes from 00:01:00 to 1.00:00:00, such as 00:05:00; not '{text}'.");
    }

    /// <summary>The Aggregator as Lambda runs it (one process), with the local window and settle time, and any <paramref name="overrides"/> of its variables.</summary>
    public static LocalFunction Start(ProvisionedResources stack, LocalEndpoints endpoints, TimeSpan window, Action<string> output, string? taskRoot = null,
        IReadOnlyDictionary<string, string>? overrides = null) =>
        new(LocalLambda.Definition(stack, LogicalId, endpoints, new Dictionary<string, string>(overrides ?? new Dictionary<string, string>())
        {
            ["Summaries__WindowMinutes"] = ((int)window.TotalMinutes).ToString(CultureInfo.InvariantCulture),
            ["Summaries__SettleSeconds"] = ((int)Settle.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        }, taskRoot), 1, output);

    /// <summary>Invokes the function once with the event EventBridge's schedule sends; returns what the run did.</summary>
    public static async Task<AggregatorRun> InvokeAsync(LocalFunction function, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        var now = TimeProvider.System.GetUtcNow();
        var scheduled = new System.Text.Json.Nodes.JsonObject
        {
            ["version"] = "0",
            ["id"] = Guid.NewGuid().ToString(),
            ["detail-type"] = "Scheduled Event",
            ["source"] = "aws.events",
            ["account"] = "000000000000",
            ["time"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["region"] = function.Definition.Environment["AWS_REGION"],
            ["resources"] = new System.Text.Json.Nodes.JsonArray(),
            ["detail"] = new System.Text.Json.Nodes.JsonObject(),
        }.ToJsonString();
        var response = await function.InvokeAsync(System.Text.Encoding.UTF8.GetBytes(scheduled), cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(response, SummaryJsonContext.Default.AggregatorRun)
            ?? throw new InvalidDataException("The Aggregator answered null.");
    }

    /// <summary>Invokes the function each time a window has ended and settled, until cancelled.</summary>
    public static async Task ScheduleAsync(LocalFunction function, TimeSpan window, Action<string> say, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(say);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = TimeProvider.System.GetUtcNow();
            var next = SummaryWindows.Containing(now - Settle, window).End + Settle;
            try
            {
                await Task.Delay(next - now, cancellationToken);
                var run = await InvokeAsync(function, cancellationToken);
                if (run.Published.Count > 0)
                {
                    say($"Aggregator: published {run.Published.Count} summary(ies), latest window starting {run.Published[^1]:HH:mm:ss} UTC.");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The schedule goes on whatever one run did, as EventBridge's does.
                say($"Aggregator run failed (the next run retries): {e.Message}");
            }
        }
    }
}
