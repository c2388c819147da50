using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Pipeline.ApiKeys;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.Hosting;
using Pipeline.Local.Lambda;

namespace Pipeline.Bench;

/// <summary>
/// Cold starts of the published functions, with and without ReadyToRun, on this machine (linux-x64: an arm64 image cannot
/// run here, so the arm64 publish is only checked to build). For the Processor and the Aggregator: process start to the
/// first GET /next (Lambda's Init Duration) and the first invocation's duration, under the local Runtime API. For the Api:
/// process start to the first 202 of POST /events. Medians of several fresh processes each.
/// </summary>
internal static class ColdStartBenchmark
{
    private sealed record Sample(double InitMs, double FirstInvocationMs);

    public static async Task<string> RunAsync(int runs)
    {
        await using var bench = await BenchStack.StartAsync();
        var (key, _) = await new ApiKeyRegistry(bench.Aws.DynamoDb, bench.Stack["ApiKeysTable"]).CreateAsync("bench", CancellationToken.None);
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-coldstart-{Guid.NewGuid():N}");
        var lines = new List<string>
        {
            FormattableString.Invariant($"{runs} fresh processes per row, medians, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, linux-x64 (Release, framework-dependent, as deployed)."),
            "Ratios are to the baselines of the same run and ReadyToRun setting: an empty Runtime API program (bench/Baselines/EmptyFunction) for the functions, an empty Minimal API (bench/Baselines/EmptyApi) for the Api.",
            "",
            "| function | ReadyToRun | process start → first GET /next (Init Duration) | vs empty program | first invocation | process start → first 202 (200 for the baseline) | vs empty Minimal API |",
            "|---|---|---:|---:|---:|---:|---:|",
        };
        try
        {
            foreach (var readyToRun in new[] { false, true })
            {
                var empty = await MeasureFunctionAsync(bench, LocalProcessor.LogicalId, "bench/Baselines/EmptyFunction", readyToRun, runs, folder, ProcessorEvent, "EmptyFunction");
                var baseline = Median(empty.Select(s => s.InitMs));
                lines.Add(Row("empty Runtime API program (baseline)", readyToRun, empty, baseline));
                var processor = await MeasureFunctionAsync(bench, LocalProcessor.LogicalId, "src/Processor", readyToRun, runs, folder, ProcessorEvent);
                lines.Add(Row("Processor (10 events)", readyToRun, processor, baseline));
                var aggregator = await MeasureFunctionAsync(bench, LocalAggregator.LogicalId, "src/Aggregator", readyToRun, runs, folder, _ => ScheduledEvent());
                lines.Add(Row("Aggregator (scheduled run)", readyToRun, aggregator, baseline));
                var emptyApi = await MeasureApiAsync(bench, null, readyToRun, runs, folder);
                lines.Add(FormattableString.Invariant($"| empty Minimal API (baseline) | {(readyToRun ? "yes" : "no")} | - | - | - | {emptyApi:0} ms | 1.00× |"));
                var api = await MeasureApiAsync(bench, key, readyToRun, runs, folder);
                lines.Add(FormattableString.Invariant($"| Api (Kestrel, as the Web Adapter starts it) | {(readyToRun ? "yes" : "no")} | - | - | - | {api:0} ms | {api / emptyApi:0.00}× |"));
            }
            var arm64 = await LocalLambda.PublishAsync("src/Processor", "linux-arm64", Path.Combine(folder, "arm64"), readyToRun: true);
            lines.Add("");
            lines.Add(FormattableString.Invariant($"- An arm64 ReadyToRun publish (what deploys) builds here: `Pipeline.Processor.dll` is {new FileInfo(Path.Combine(arm64, "Pipeline.Processor.dll")).Length / 1024} KB."));
            lines.Add("- The Aggregator loads DuckDB at its first count, not at start: its first invocation includes that.");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        return string.Join('\n', lines) + "\n";
    }

    private static string Row(string name, bool readyToRun, List<Sample> samples, double baselineInitMs) => FormattableString.Invariant(
        $"| {name} | {(readyToRun ? "yes" : "no")} | {Median(samples.Select(s => s.InitMs)):0} ms | {Median(samples.Select(s => s.InitMs)) / baselineInitMs:0.00}× | {Median(samples.Select(s => s.FirstInvocationMs)):0} ms | - | - |");

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    // A function's cold starts; with a handler, another program in the function's place (the baseline).
    private static async Task<List<Sample>> MeasureFunctionAsync(BenchStack bench, string logicalId, string codeUri, bool readyToRun, int runs, string folder, Func<int, byte[]> payload,
        string? handler = null)
    {
        var taskRoot = await LocalLambda.PublishAsync(codeUri, "linux-x64", Path.Combine(folder, $"{logicalId}-{handler}-{readyToRun}"), readyToRun);
        var definition = LocalLambda.Definition(bench.Stack, logicalId, bench.Aws.Endpoints, taskRoot: taskRoot);
        definition = handler is null ? definition : definition with { Handler = handler };
        var samples = new List<Sample>();
        for (var i = 0; i < runs; i++)
        {
            await using var function = new LocalFunction(definition, 1, _ => { });
            await function.InvokeAsync(payload(i), CancellationToken.None);
            var report = function.Reports.Single();
            samples.Add(new Sample(report.InitDuration!.Value.TotalMilliseconds, report.Duration.TotalMilliseconds));
        }
        Console.WriteLine($"{logicalId}, ReadyToRun {readyToRun}: {string.Join(", ", samples)}");
        return samples;
    }

    // The Api's cold starts to its first 202; without a key, the empty Minimal API's to its first 200 (the baseline).
    private static async Task<double> MeasureApiAsync(BenchStack bench, string? key, bool readyToRun, int runs, string folder)
    {
        var (codeUri, program) = key is null ? ("bench/Baselines/EmptyApi", "EmptyApi.dll") : ("src/Api", "Pipeline.Api.dll");
        var taskRoot = await LocalLambda.PublishAsync(codeUri, "linux-x64", Path.Combine(folder, $"{program}-{readyToRun}"), readyToRun);
        var settings = LocalApi.Settings(bench.Aws.Endpoints, bench.Stack);
        using var http = new HttpClient();
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var url = $"http://127.0.0.1:{Pipeline.Local.Environment.LocalEmulators.FreePort()}";
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = taskRoot, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(Path.Combine(taskRoot, program));
            foreach (var (name, value) in settings)
            {
                start.Environment[name.Replace(":", "__", StringComparison.Ordinal)] = value;
            }
            foreach (var (name, value) in LocalLambda.Credentials)
            {
                start.Environment[name] = value;
            }
            start.Environment["ASPNETCORE_URLS"] = url;
            var watch = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                while (watch.Elapsed < TimeSpan.FromSeconds(30))
                {
                    try
                    {
                        using var request = key is null ? new HttpRequestMessage(HttpMethod.Get, url + "/") : new HttpRequestMessage(HttpMethod.Post, url + "/events")
                        {
                            Content = new StringContent("""{"eventType":"page_view","userId":"u-1"}""", Encoding.UTF8, "application/json"),
                        };
                        if (key is not null)
                        {
                            request.Headers.Add("x-api-key", key);
                        }
                        using var response = await http.SendAsync(request);
                        if (response.StatusCode == (key is null ? HttpStatusCode.OK : HttpStatusCode.Accepted))
                        {
                            times.Add(watch.Elapsed.TotalMilliseconds);
                            break;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        await Task.Delay(5);
                    }
                }
            }
            finally
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }
        Console.WriteLine($"{program}, ReadyToRun {readyToRun}: {string.Join(", ", times.Select(t => t.ToString("0", CultureInfo.InvariantCulture)))} ms");
        return Median(times);
    }

    private static byte[] ProcessorEvent(int run) => JsonSerializer.SerializeToUtf8Bytes(new SqsEvent
    {
        Records = [.. Enumerable.Range(0, 10).Select(i => new SqsMessage
        {
            MessageId = Guid.NewGuid().ToString(),
            ReceiptHandle = "h",
            EventSource = "aws:sqs",
            Body = JsonSerializer.Serialize(new QueuedEvent
            {
                SchemaVersion = QueuedEvent.CurrentSchemaVersion,
                EventId = $"coldstart-{run}-{i}-{Guid.NewGuid():N}",
                EventType = "page_view",
                UserId = $"u-{i}",
                OccurredAt = DateTimeOffset.UtcNow,
                ReceivedAt = DateTimeOffset.UtcNow,
                RequestId = "bench",
                Properties = JsonDocument.Parse("""{"path":"/pricing","plan":"pro"}""").RootElement,
            }, EventJsonContext.Default.QueuedEvent),
        })],
    }, LambdaJsonContext.Default.SqsEvent);

    private static byte[] ScheduledEvent() => Encoding.UTF8.GetBytes("""{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}""");
}
