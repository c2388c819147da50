using System.Globalization;
using Pipeline.Aggregator;
using Pipeline.Local.Environment;
using Pipeline.Local.Provisioning;

namespace Pipeline.Local.Hosting;

/// <summary>The Aggregator function on the local stack, run at the window's cadence as the schedule would run it.</summary>
public static class LocalAggregator
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "AggregatorFunction";

    /// <summary>The local window length: <c>PIPELINE_SUMMARY_WINDOW</c> (a TimeSpan such as 00:01:00), default one minute.</summary>
    public static TimeSpan Window(Func<string, string?>? read = null)
    {
        var text = (read ?? System.Environment.GetEnvironmentVariable)("PIPELINE_SUMMARY_WINDOW");
        if (string.IsNullOrEmpty(text))
        {
            return TimeSpan.FromMinutes(1);
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var window) && window >= TimeSpan.FromSeconds(1) && window <= TimeSpan.FromDays(1)
            ? window
            : throw new InvalidOperationException($"PIPELINE_SUMMARY_WINDOW must be a TimeSpan from 00:00:01 to 1.00:00:00, such as 00:01:00; not '{text}'.");
    }

    /// <summary>The Aggregator's settings: the template's environment for the function, resolved locally, with the local window.</summary>
    public static AggregatorOptions Options(ProvisionedResources stack, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var environment = stack.FunctionEnvironment(LogicalId);
        // Locally the Processor lags the API by about a second, so a short settle time is enough.
        return AggregatorOptions.FromEnvironment(name => environment.GetValueOrDefault(name)) with { Window = window, Settle = TimeSpan.FromSeconds(5) };
    }

    /// <summary>An Aggregator function on the local stack's clients.</summary>
    public static AggregatorFunction Function(LocalAws aws, AggregatorOptions options, TimeProvider clock, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        return new AggregatorFunction(options, aws.DynamoDb, aws.S3, aws.Sqs, aws.Sns, clock, log);
    }

    /// <summary>Runs the function each time a window has ended and settled, until cancelled.</summary>
    public static async Task ScheduleAsync(AggregatorFunction function, AggregatorOptions options, Action<string> say, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(say);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = DateTimeOffset.UtcNow;
            var next = SummaryWindows.Containing(now - options.Settle, options.Window).End + options.Settle;
            try
            {
                await Task.Delay(next - now, cancellationToken);
                var run = await function.RunAsync(cancellationToken);
                if (run.Published.Count > 0)
                {
                    say($"Aggregator: published {run.Published.Count} summary(ies), latest window starting {run.Published[^1]:HH:mm:ss} UTC.");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or Amazon.Runtime.AmazonClientException or HttpRequestException or Pipeline.Sns.SnsException)
            {
                say($"Aggregator run failed (the next run retries): {e.Message}");
            }
        }
    }
}
