using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.ApiKeys;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;

namespace Pipeline.Bench;

/// <summary>
/// Cold starts as deployed: every function of serverless.template, published as `dotnet lambda deploy-serverless`
/// publishes it (Release, ReadyToRun, framework-dependent but the Api self-contained; linux-x64 here, as an arm64 image cannot run here),
/// each start in a fresh <see cref="Cgroup"/> of the function's MemorySize (its memory, and MemorySize/1,769 of a core).
/// Each run starts the baseline and then the function under the same share, so a ratio compares two starts a moment
/// apart: the functions to an empty Runtime API program, the Api to an empty Minimal API, to its first 202.
/// </summary>
internal static class ColdStartBenchmark
{
    // The baselines are the ratios' denominators: changing them would move every ratio. Their content is frozen here.
    private const string BaselinesHash = "5433451f87f479c8458cf0b509f792b58bfd4bfcf5069177557b0bf684139747";

    private static readonly int[] ApiMemorySizes = [512, 1024, 1769];

    private sealed record Start(double BaselineMs, double FunctionMs, double? BuiltAlikeMs = null, double? FrameworkDependentMs = null)
    {
        public double Ratio => FunctionMs / BaselineMs;

        // The Api against the empty Minimal API published as the Api is (self-contained, composite ReadyToRun).
        public double? RatioAlike => FunctionMs / BuiltAlikeMs;

        // The Api built framework-dependent (as before D22) against the empty Minimal API.
        public double? RatioFrameworkDependent => FrameworkDependentMs / BaselineMs;
    }

    public static async Task<string> RunAsync(int runs, string? only = null)
    {
        VerifyBaselines();
        await using var bench = await BenchStack.StartAsync();
        var (key, _) = await new ApiKeyRegistry(bench.Aws.DynamoDb, bench.Stack["ApiKeysTable"]).CreateAsync("bench", CancellationToken.None);
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-coldstart-{Guid.NewGuid():N}");
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{runs} paired runs per row, one run of the benchmark, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, "
                + $"{Environment.ProcessorCount} cores, linux-x64, Release, ReadyToRun, as deployed: framework-dependent, "
                + $"but the Api self-contained with a composite image (D22)."),
            "Each start runs in a fresh cgroup of the function's MemorySize: that memory limit, and a CPU quota of MemorySize/1,769 of a core (Lambda gives one vCPU at 1,769 MB); "
                + $"the process is told the CPUs a Lambda environment is reported to show (DOTNET_PROCESSOR_COUNT: {Cgroup.VisibleCpus(3008)} up to 3,008 MB), "
                + "not the quota rounded up.",
            "**This is a model**: Lambda's init phase may not be limited exactly so (it is known to burst), so the absolute times are an estimate; "
                + "the ratios compare like with like.",
            "A function's start → first answer is its process start → its first invocation's response (Init Duration + the first Duration); "
                + "the Api's is its process start (its own executable, as the Lambda Web Adapter starts it) → the first 202 of POST /events.",
            "Each run starts the baseline, then the function, under the same share: an empty Runtime API program (bench/Baselines/EmptyFunction) for a function, "
                + "an empty Minimal API (bench/Baselines/EmptyApi, to its first 200) for the Api.",
            "Medians, with the range of the runs in brackets.",
            "",
            "| function | MemorySize (CPU share) | start → first answer | baseline | ratio to the baseline | of which init (start → first GET /next) |",
            "|---|---:|---:|---:|---:|---:|",
        };
        try
        {
            var emptyFunction = await PublishAsync("bench/Baselines/EmptyFunction", folder);
            var emptyApi = await PublishAsync("bench/Baselines/EmptyApi", folder);
            // The empty Minimal API with the Api's publish settings (D22), and the Api without them, for the ratios beside the target's.
            var emptyApiAlike = await PublishAsync("bench/Baselines/EmptyApi", Path.Combine(folder, "alike"),
                ["SelfContained=true", "PublishReadyToRunComposite=true", "PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3",
                    "ServerGarbageCollection=false", "ConcurrentGarbageCollection=false", "TieredPGO=false"]);
            var apiFrameworkDependent = await PublishAsync(
                bench.Stack.FunctionSetting(LocalApi.LogicalId, "CodeUri")!, Path.Combine(folder, "fd"),
                ["SelfContained=false", "AllowFrameworkDependent=true", "PublishReadyToRunCrossgen2ExtraArgs="]);
            List<string> apiNotes = [];
            foreach (var logicalId in bench.Stack.Functions.Keys.Order(StringComparer.Ordinal).Where(id => only is null || id == only))
            {
                var definition = await PublishedDefinitionAsync(bench, logicalId, folder);
                if (IsWebApp(bench, logicalId))
                {
                    var starts = await MeasureApiAsync(bench, definition, (emptyApi, emptyApiAlike), key, definition.MemorySize, runs, folder,
                        frameworkDependent: apiFrameworkDependent);
                    lines.Add(Row(logicalId, definition.MemorySize, starts, "-"));
                    var cold = await MeasureApiAsync(bench, definition, (emptyApi, emptyApiAlike), key, definition.MemorySize, runs, folder,
                        frameworkDependent: apiFrameworkDependent, coldFiles: true);
                    apiNotes.AddRange(ApiNotes(logicalId, starts, cold, [(emptyApi, "the empty Minimal API"), (emptyApiAlike, "it built as the Api is"),
                        (apiFrameworkDependent, "the Api framework-dependent"), (definition.TaskRoot, "the Api")]));
                    continue;
                }
                if (await PayloadAsync(bench, logicalId, runs) is not { } payload)
                {
                    lines.Add($"| {logicalId} | {definition.MemorySize} MB | not measured: the benchmark has no first invocation for its event source yet | - | - | - |");
                    continue;
                }
                var inits = new List<double>();
                var measured = new List<Start>();
                for (var run = 0; run < runs; run++)
                {
                    var (baseline, _) = await StartFunctionAsync(definition with { TaskRoot = emptyFunction, Handler = "EmptyFunction" }, payload(run), folder);
                    var (function, init) = await StartFunctionAsync(definition, payload(run), folder);
                    measured.Add(new Start(baseline, function));
                    inits.Add(init);
                }
                lines.Add(Row(logicalId, definition.MemorySize, measured, Spread(inits)));
            }

            lines.AddRange(apiNotes);
            if (only is not null)
            {
                return string.Join('\n', lines) + "\n";
            }
            lines.AddRange(
            [
                "",
                "## The Api's MemorySize",
                "",
                "The Api started at each size (paired with the empty Minimal API at the same size), then 300 sequential POST /events, "
                    + "one at a time as one Lambda instance serves them.",
                "Cost per million requests: the Lambda part only (Arm list price, duration rounded up to the millisecond per request, plus Lambda's request charge; "
                    + "API Gateway, SQS and the rest do not depend on the size); a request's time is its round trip here, an over-estimate of its billed duration. "
                    + "Since August 2025 the init phase is billed too: a cold start costs its init time at the size's rate.",
                "",
                "| MemorySize (CPU share) | start → first 202 | ratio to the empty Minimal API | ratio to it built as the Api is | warm p50 | warm p99 | "
                    + "Lambda cost per million warm requests | Lambda cost per million cold starts |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]);
            var prices = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Discover().Root, "bench", "prices.json"))).RootElement;
            var perGbSecond = prices.GetProperty("lambdaArmPerGbSecond").GetDouble();
            var perMillionRequests = prices.GetProperty("lambdaRequestsPerMillion").GetDouble();
            var api = await PublishedDefinitionAsync(bench, LocalApi.LogicalId, folder);
            foreach (var memory in ApiMemorySizes)
            {
                var warm = new List<double>();
                var starts = await MeasureApiAsync(bench, api, (emptyApi, emptyApiAlike), key, memory, runs, folder, warm);
                warm.Sort();
                var gb = memory / 1024.0;
                var billedSeconds = warm.Average(ms => Math.Ceiling(ms)) / 1000;
                var perMillion = (1_000_000 * gb * billedSeconds * perGbSecond) + perMillionRequests;
                var coldStart = gb * (Median(starts.Select(s => s.FunctionMs)) / 1000) * perGbSecond;
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {memory} MB ({Cgroup.CpuShare(memory):0.00}) | {Spread(starts.Select(s => s.FunctionMs))} | {Spread(starts.Select(s => s.Ratio), "×", "0.00")} | "
                        + $"{Spread(starts.Select(s => s.RatioAlike!.Value), "×", "0.00")} | "
                        + $"{warm[warm.Count / 2]:0.0} ms | {warm[(int)(warm.Count * 0.99)]:0.0} ms | ${perMillion:0.00} | ${coldStart * 1_000_000:0.0} |"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        return string.Join('\n', lines) + "\n";
    }

    private static string Row(string logicalId, int memory, List<Start> starts, string init) => string.Create(CultureInfo.InvariantCulture,
        $"| {logicalId} | {memory} MB ({Cgroup.CpuShare(memory):0.00}) | {Spread(starts.Select(s => s.FunctionMs))} | {Spread(starts.Select(s => s.BaselineMs))} | "
            + $"{Spread(starts.Select(s => s.Ratio), "×", "0.00")} | {init} |");

    // The Api's other comparisons, under its template's share: the ratios beside the target's, the same with cold files, the packages.
    private static IEnumerable<string> ApiNotes(string logicalId, List<Start> starts, List<Start> cold, (string Folder, string Name)[] packages)
    {
        string Ratios(List<Start> s) => string.Create(CultureInfo.InvariantCulture,
            $"the Api {Spread(s.Select(x => x.FunctionMs))}, **{Spread(s.Select(x => x.Ratio), "×", "0.00")}** the empty Minimal API "
                + $"({Spread(s.Select(x => x.BaselineMs))}); {Spread(s.Select(x => x.RatioAlike!.Value), "×", "0.00")} it built as the Api is "
                + $"({Spread(s.Select(x => x.BuiltAlikeMs!.Value))}); the Api built framework-dependent, as before D22, "
                + $"{Spread(s.Select(x => x.FrameworkDependentMs!.Value))}, {Spread(s.Select(x => x.RatioFrameworkDependent!.Value), "×", "0.00")} the empty Minimal API");
        yield return "";
        yield return $"{logicalId}, the same runs: {Ratios(starts)}.";
        yield return "";
        yield return $"{logicalId}, {cold.Count} more runs with the page cache dropped before each start (every file read from disk, as in a new "
            + $"Lambda environment): {Ratios(cold)}.";
        yield return "";
        yield return "Packages, unpacked: " + string.Join(", ", packages.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.Name} {Directory.EnumerateFiles(p.Folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / 1048576.0:0} MB"))) + ".";
    }

    // Drops the page cache (root only), after writing what is dirty: the next start reads its files from disk.
    private static void DropPageCache()
    {
        using var sync = Process.Start("sync")!;
        sync.WaitForExit();
        File.WriteAllText("/proc/sys/vm/drop_caches", "3");
    }

    private static string Spread(IEnumerable<double> values, string unit = " ms", string format = "0")
    {
        var sorted = values.Order().ToList();
        string Text(double v) => v.ToString(format, CultureInfo.InvariantCulture) + unit;
        return $"{Text(sorted[sorted.Count / 2])} [{Text(sorted[0])}–{Text(sorted[^1])}]";
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    // The baselines' files (not their build output), hashed in a fixed order.
    private static void VerifyBaselines()
    {
        var root = Path.Combine(RepositoryPaths.Discover().Root, "bench", "Baselines");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file + "\n"));
            hash.AppendData(Encoding.UTF8.GetBytes(File.ReadAllText(Path.Combine(root, file)).ReplaceLineEndings("\n")));
        }
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != BaselinesHash)
        {
            throw new InvalidOperationException(
                $"bench/Baselines changed (its hash is {actual}, frozen as {BaselinesHash}): every cold-start ratio's denominator would move. "
                + "Restore them; or, if the change is meant, freeze the new hash in ColdStartBenchmark and say why in bench/results/coldstart.md.");
        }
    }

    private static Task<string> PublishAsync(string codeUri, string folder, IEnumerable<string>? properties = null) =>
        LocalLambda.PublishAsync(codeUri, "linux-x64", Path.Combine(folder, codeUri.Replace('/', '-').Trim('.', '-')), ["PublishReadyToRun=true", .. properties ?? []]);

    // A web app behind the Lambda Web Adapter (the template's AWS_LWA_ variables) answers HTTP, not the Runtime API.
    // The template's definition of the function, run from its program published into the folder.
    private static async Task<FunctionDefinition> PublishedDefinitionAsync(BenchStack bench, string logicalId, string folder) =>
        LocalLambda.Definition(bench.Stack, logicalId, bench.Aws.Endpoints, taskRoot: await PublishAsync(bench.Stack.FunctionSetting(logicalId, "CodeUri")!, folder));

    private static bool IsWebApp(BenchStack bench, string logicalId) =>
        bench.Stack.FunctionEnvironment(logicalId).Keys.Any(k => k.StartsWith("AWS_LWA_", StringComparison.Ordinal));

    // The first invocation each function gets, by the kind of event its template wires to it: a function added with
    // another kind of event needs its payload here before this benchmark measures it.
    private static async Task<Func<int, byte[]>?> PayloadAsync(BenchStack bench, string logicalId, int runs)
    {
        var template = JsonNode.Parse(await File.ReadAllTextAsync(RepositoryPaths.Discover().Template))!;
        var events = template["Resources"]![logicalId]!["Properties"]!["Events"]?.AsObject().Select(e => e.Value).ToList() ?? [];
        string? Source(string type) => events.FirstOrDefault(e => e?["Type"]?.ToString() == type) is { } e
            ? e["Properties"]?["Queue"]?["Fn::GetAtt"]?[0]?.ToString() ?? type
            : null;
        return (Source("SQS"), Source("Schedule") ?? Source("ScheduleV2")) switch
        {
            ("EventsQueue", _) => SqsBatch,
            ("ImportQueue", _) => await ImportNotificationsAsync(bench, runs),
            (null, not null) => _ => Encoding.UTF8.GetBytes("""{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"""),
            _ => null,
        };
    }

    // An import's first invocation: a small file of events dropped in the imports bucket (one per run, so that no run finds
    // its file already imported), its S3 notification as the local bucket watcher sends it, received from the import queue
    // and handed over in an SQS event as the queue's event source would.
    private static async Task<Func<int, byte[]>> ImportNotificationsAsync(BenchStack bench, int runs)
    {
        var keys = Enumerable.Range(0, runs).Select(run => $"uploads/coldstart/run-{run}-{Guid.NewGuid():N}.jsonl").ToList();
        foreach (var key in keys)
        {
            var lines = Enumerable.Range(0, 10).Select(i => $$$"""{"eventType":"page_view","userId":"u-{{{i}}}","properties":{"path":"/pricing"}}""");
            await bench.Aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = bench.Stack["ImportsBucket"],
                Key = key,
                ContentBody = string.Join('\n', lines) + "\n",
            });
        }
        await Pipeline.Local.EventSourceMapping.LocalImporter.Notifications(bench.Aws, bench.Stack, _ => { }).PollOnceAsync(CancellationToken.None);
        var queue = bench.Stack.Resources["ImportQueue"];
        var bodies = new Dictionary<string, string>();
        while (bodies.Count < runs)
        {
            var received = await bench.Aws.Sqs.ReceiveMessageAsync(new Amazon.SQS.Model.ReceiveMessageRequest
            {
                QueueUrl = queue.Ref,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 5,
            });
            if (received.Messages is not { Count: > 0 } messages)
            {
                throw new InvalidOperationException($"The imports bucket's notifications did not arrive ({bodies.Count} of {runs}).");
            }
            foreach (var message in messages)
            {
                bodies[keys.Single(k => message.Body.Contains(k, StringComparison.Ordinal))] = message.Body;
                await bench.Aws.Sqs.DeleteMessageAsync(queue.Ref, message.ReceiptHandle);
            }
        }
        return run => JsonSerializer.SerializeToUtf8Bytes(new SqsEvent
        {
            Records = [new SqsMessage
            {
                MessageId = Guid.NewGuid().ToString(), ReceiptHandle = "h", EventSource = "aws:sqs", EventSourceArn = queue.Attributes["Arn"],
                Body = bodies[keys[run]],
            }],
        }, LambdaJsonContext.Default.SqsEvent);
    }

    // One fresh process of the function in its own cgroup: start → first answer, and of it the init.
    private static async Task<(double FirstAnswerMs, double InitMs)> StartFunctionAsync(FunctionDefinition definition, byte[] payload, string folder)
    {
        using var cgroup = Cgroup.Create(definition.MemorySize);
        await using var function = new LocalFunction(definition with { Host = await cgroup.LauncherAsync(folder) }, 1, _ => { });
        await function.InvokeAsync(payload, CancellationToken.None);
        var report = function.Reports.Single();
        var init = report.InitDuration!.Value.TotalMilliseconds;
        return (init + report.Duration.TotalMilliseconds, init);
    }

    // The Api's cold starts to the first 202, each after the empty Minimal API's to its first 200, both at memory; with
    // warm, the Api then serves 300 requests one at a time, and their round trips are added to it.
    // With frameworkDependent, the same Api built so starts too; with coldFiles, the page cache is dropped before each start, so
    // every file is read from disk, as in a new Lambda environment whose code is not yet in memory.
    private static async Task<List<Start>> MeasureApiAsync(
        BenchStack bench, FunctionDefinition api, (string Default, string Alike) emptyApi, string key, int memory, int runs, string folder,
        List<double>? warm = null, string? frameworkDependent = null, bool coldFiles = false)
    {
        var settings = LocalApi.Settings(bench.Aws.Endpoints, bench.Stack);
        var starts = new List<Start>();
        for (var run = 0; run < runs; run++)
        {
            Task<double> StartAsync(string taskRoot, string program, string? apiKey, List<double>? warmed = null)
            {
                if (coldFiles)
                {
                    DropPageCache();
                }
                return StartApiAsync(taskRoot, program, settings, apiKey, memory, folder, warmed);
            }
            var baseline = await StartAsync(emptyApi.Default, "EmptyApi.dll", null);
            var alike = await StartAsync(emptyApi.Alike, "EmptyApi.dll", null);
            double? dependent = frameworkDependent is null ? null : await StartAsync(frameworkDependent, api.Handler + ".dll", key);
            var function = await StartAsync(api.TaskRoot, api.Handler + ".dll", key, run == 0 ? warm : null);
            starts.Add(new Start(baseline, function, alike, dependent));
        }
        Console.WriteLine($"{api.Name} at {memory} MB: {string.Join(", ", starts)}");
        return starts;
    }

    private static async Task<double> StartApiAsync(
        string taskRoot, string program, Dictionary<string, string?> settings, string? key, int memory, string folder, List<double>? warm)
    {
        using var cgroup = Cgroup.Create(memory);
        using var http = new HttpClient();
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        // As the Lambda Web Adapter starts it: the program's own executable (its apphost), `${LAMBDA_TASK_ROOT}/${_HANDLER}`.
        var executable = Path.Combine(taskRoot, Path.GetFileNameWithoutExtension(program));
        var start = new ProcessStartInfo(await cgroup.LauncherAsync(folder, executable))
        {
            WorkingDirectory = taskRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in settings)
        {
            start.Environment[name.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        foreach (var (name, value) in LocalLambda.Credentials)
        {
            start.Environment[name] = value;
        }
        start.Environment["ASPNETCORE_URLS"] = url;
        start.Environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = memory.ToString(CultureInfo.InvariantCulture);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            double? first = null;
            while (first is null)
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(30) || process.HasExited)
                {
                    throw new InvalidOperationException($"{program} gave no first answer within {watch.Elapsed.TotalSeconds:0} s (exited: {process.HasExited}).");
                }
                try
                {
                    if (await SendAsync(http, url, key))
                    {
                        first = watch.Elapsed.TotalMilliseconds;
                    }
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(5);
                }
            }
            for (var i = 0; warm is not null && i < 300; i++)
            {
                var request = Stopwatch.StartNew();
                if (!await SendAsync(http, url, key))
                {
                    throw new InvalidOperationException($"{program} refused a warm request.");
                }
                warm.Add(request.Elapsed.TotalMilliseconds);
            }
            return first.Value;
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    // A POST /events with the key (202), or the empty Minimal API's GET / (200).
    private static async Task<bool> SendAsync(HttpClient http, string url, string? key)
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
        return response.StatusCode == (key is null ? HttpStatusCode.OK : HttpStatusCode.Accepted);
    }

    private static byte[] SqsBatch(int run) => JsonSerializer.SerializeToUtf8Bytes(new SqsEvent
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
}
