using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Pipeline.Deployment.Tests;

public sealed class StructureTests
{
    private static int Int(JsonNode? node) => int.Parse(node!.ToString(), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Functions_run_dotnet10_on_arm64_with_json_logs_in_a_log_group_with_retention()
    {
        foreach (var function in Template.Functions)
        {
            Assert.Equal("dotnet10", Template.FunctionProperty(function, "Runtime")!.GetValue<string>());
            Assert.Equal(["arm64"], Template.FunctionProperty(function, "Architectures")!.AsArray().Select(a => a!.GetValue<string>()));
            var logging = Template.FunctionProperty(function, "LoggingConfig")!;
            Assert.Equal("JSON", logging["LogFormat"]!.GetValue<string>());
            if (function != "ApiFunction")
            {
                // Our programs write their own JSON lines; the level reaches them as AWS_LAMBDA_LOG_LEVEL (FunctionLog).
                Assert.Equal("INFO", logging["ApplicationLogLevel"]!.GetValue<string>());
            }
            if (function != "AggregatorFunction")
            {
                // Lambda's START and REPORT lines for every request or batch would cost more than the work they describe
                // ($0.22 a million events on the Api, $0.02 on the Processor: bench/results/cost.md); errors still show.
                Assert.Equal("WARN", logging["SystemLogLevel"]!.GetValue<string>());
            }
            var group = logging["LogGroup"]!["Ref"]!.GetValue<string>();
            Assert.Equal("AWS::Logs::LogGroup", Template.Resources[group]!["Type"]!.GetValue<string>());
            Assert.NotNull(Template.Properties(group)["RetentionInDays"]);
        }
    }

    [Fact]
    public void The_queue_visibility_timeout_is_at_least_six_times_the_processor_timeout_and_redrives_to_a_14_day_dlq()
    {
        var queue = Template.Properties("EventsQueue");
        Assert.True(Int(queue["VisibilityTimeout"]) >= 6 * Int(Template.FunctionProperty("ProcessorFunction", "Timeout")));
        var redrive = queue["RedrivePolicy"]!;
        Assert.Equal("EventsDeadLetterQueue", redrive["deadLetterTargetArn"]!["Fn::GetAtt"]![0]!.GetValue<string>());
        Assert.InRange(Int(redrive["maxReceiveCount"]), 1, 10);
        Assert.Equal(14 * 24 * 3600, Int(Template.Properties("EventsDeadLetterQueue")["MessageRetentionPeriod"]));
    }

    [Fact]
    public void The_processor_takes_batches_of_ten_from_the_live_and_the_import_queues_each_on_its_own_and_reports_item_failures()
    {
        var events = Template.Properties("ProcessorFunction")["Events"]!.AsObject().Select(e => e.Value!).ToList();

        // Each queue has its own event source mapping, so its own pollers and concurrency: live events never wait behind a file.
        Assert.Equal(["EventsQueue", "ImportEventsQueue"], events.Select(e => e["Properties"]!["Queue"]!["Fn::GetAtt"]![0]!.GetValue<string>()).Order());
        Assert.All(events, sqs =>
        {
            Assert.Equal("SQS", sqs["Type"]!.GetValue<string>());
            Assert.Equal(10, Int(sqs["Properties"]!["BatchSize"]));
            Assert.Contains("ReportBatchItemFailures", sqs["Properties"]!["FunctionResponseTypes"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.NotNull(sqs["Properties"]!["MaximumBatchingWindowInSeconds"]);
            Assert.NotNull(sqs["Properties"]!["ScalingConfig"]!["MaximumConcurrency"]);
        });
        Assert.Equal("ImportEventsQueue", Template.Properties("ImportFunction")["Environment"]!["Variables"]!["Queue__Url"]!["Ref"]!.GetValue<string>());
    }

    [Fact]
    public void Imported_events_are_paced_over_as_many_invocations_as_read_the_import_queue_and_the_parameter_has_the_processors_limits()
    {
        var imports = Template.Properties("ProcessorFunction")["Events"]!.AsObject().Select(e => e.Value!["Properties"]!)
            .Single(p => p["Queue"]!["Fn::GetAtt"]![0]!.GetValue<string>() == "ImportEventsQueue");
        Assert.Equal(Pipeline.Processor.ProcessorOptions.ImportInvocations, Int(imports["ScalingConfig"]!["MaximumConcurrency"]));

        var parameter = Template.Root["Parameters"]!["ImportWriteRate"]!;
        Assert.Equal(Pipeline.Processor.ProcessorOptions.MinImportWriteRate, Int(parameter["MinValue"]));
        Assert.Equal(40_000, Int(parameter["MaxValue"]));
        Assert.Equal("ImportWriteRate", Template.Properties("ProcessorFunction")["Environment"]!["Variables"]!["Imports__WriteRate"]!["Ref"]!.GetValue<string>());

        // The slowest pace still fits an invocation: a batch of messages of the most imported events, within the Timeout.
        var rows = Int(imports["BatchSize"]) * Pipeline.Events.EventBatchMessage.MaxEvents;
        var seconds = rows / (Pipeline.Processor.ProcessorOptions.MinImportWriteRate / (double)Pipeline.Processor.ProcessorOptions.ImportInvocations);
        Assert.True(seconds < Int(Template.FunctionProperty("ProcessorFunction", "Timeout")) * 0.8, $"{seconds} s of paced writes");
    }

    [Fact]
    public void The_aggregator_runs_on_a_schedule_and_no_function_reserves_concurrency()
    {
        var aggregator = Template.Properties("AggregatorFunction");
        Assert.Equal("Schedule", aggregator["Events"]!.AsObject().Single().Value!["Type"]!.GetValue<string>());
        // Lambda refuses a reservation that leaves fewer than 100 unreserved executions (new accounts have 10); overlapping
        // Aggregator runs are safe instead (AggregatorTests: concurrent runs publish each window once).
        Assert.All(Template.Functions, f => Assert.Null(Template.FunctionProperty(f, "ReservedConcurrentExecutions")));
    }

    [Fact]
    public void The_api_runs_behind_the_web_adapter_layer_for_its_architecture()
    {
        var api = Template.Properties("ApiFunction");
        var layer = api["Layers"]![0]!["Fn::Sub"]!.GetValue<string>();
        var architecture = Template.FunctionProperty("ApiFunction", "Architectures")![0]!.GetValue<string>();
        Assert.Matches(@"^arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:753240598075:layer:LambdaAdapterLayer(Arm64|X86):\d+$", layer);
        Assert.Contains(architecture == "arm64" ? "LambdaAdapterLayerArm64" : "LambdaAdapterLayerX86", layer, StringComparison.Ordinal);
        var environment = Template.Environment("ApiFunction");
        Assert.Equal("/opt/bootstrap", environment["AWS_LAMBDA_EXEC_WRAPPER"]!.GetValue<string>());
        Assert.Equal("/health", environment["AWS_LWA_READINESS_CHECK_PATH"]!.GetValue<string>());
        Assert.EndsWith(":" + environment["AWS_LWA_PORT"]!.GetValue<string>(), environment["ASPNETCORE_URLS"]!.GetValue<string>(), StringComparison.Ordinal);
        var route = api["Events"]!.AsObject().Single().Value!;
        Assert.Equal("HttpApi", route["Type"]!.GetValue<string>());
        Assert.Equal("/{proxy+}", route["Properties"]!["Path"]!.GetValue<string>());
        Assert.Equal("ANY", route["Properties"]!["Method"]!.GetValue<string>());
        var throttling = Template.Properties("HttpApi")["DefaultRouteSettings"]!;
        Assert.NotNull(throttling["ThrottlingRateLimit"]);
        Assert.NotNull(throttling["ThrottlingBurstLimit"]);
    }

    [Fact]
    public void Tables_have_point_in_time_recovery_and_encryption_and_the_events_table_a_ttl()
    {
        foreach (var table in Template.OfType("AWS::DynamoDB::Table"))
        {
            Assert.True(Template.Properties(table)["PointInTimeRecoverySpecification"]!["PointInTimeRecoveryEnabled"]!.GetValue<bool>());
            Assert.True(Template.Properties(table)["SSESpecification"]!["SSEEnabled"]!.GetValue<bool>());
        }
        Assert.True(Template.Properties("EventsTable")["TimeToLiveSpecification"]!["Enabled"]!.GetValue<bool>());
    }

    [Fact]
    public void The_bucket_blocks_public_access_is_encrypted_refuses_plain_http_and_has_a_lifecycle()
    {
        var bucket = Template.Properties("ArchiveBucket");
        var block = bucket["PublicAccessBlockConfiguration"]!.AsObject();
        Assert.Equal(4, block.Count);
        Assert.All(block, setting => Assert.True(setting.Value!.GetValue<bool>()));
        Assert.NotEmpty(bucket["BucketEncryption"]!["ServerSideEncryptionConfiguration"]!.AsArray());
        Assert.NotEmpty(bucket["LifecycleConfiguration"]!["Rules"]!.AsArray());
        var policy = Template.OfType("AWS::S3::BucketPolicy").Select(Template.Properties).Single(p => p["Bucket"]!["Ref"]!.GetValue<string>() == "ArchiveBucket");
        Assert.Contains(policy["PolicyDocument"]!["Statement"]!.AsArray(), s =>
            s!["Effect"]!.GetValue<string>() == "Deny" && s["Condition"]?["Bool"]?["aws:SecureTransport"]?.GetValue<string>() == "false");
    }

    [Fact]
    public void Alarms_watch_the_dlq_the_functions_and_the_api_and_notify_the_alarm_topic()
    {
        // Alarms on one metric; the import backlog's is metric math, checked below.
        var all = Template.OfType("AWS::CloudWatch::Alarm").Select(Template.Properties).ToList();
        var alarms = all.Where(a => a["Metrics"] is null).ToList();
        string Watched(JsonObject alarm) => alarm["Dimensions"]![0]!["Value"]!.ToJsonString();

        Assert.Contains(alarms, a => a["Namespace"]!.GetValue<string>() == "AWS/SQS" && Watched(a).Contains("EventsDeadLetterQueue", StringComparison.Ordinal));
        Assert.Contains(alarms, a => a["MetricName"]!.GetValue<string>() == "Errors" && Watched(a).Contains("ProcessorFunction", StringComparison.Ordinal));
        Assert.Contains(alarms, a => a["MetricName"]!.GetValue<string>() == "Errors" && Watched(a).Contains("AggregatorFunction", StringComparison.Ordinal));
        Assert.Contains(alarms, a => a["Namespace"]!.GetValue<string>() == "AWS/ApiGateway" && a["MetricName"]!.GetValue<string>() == "5xx");
        // The Api's EMF metric, under the name and dimension its code writes.
        Assert.Contains(alarms, a => a["Namespace"]!.GetValue<string>() == Pipeline.Metrics.EmbeddedMetrics.Namespace
            && a["MetricName"]!.GetValue<string>() == Pipeline.Api.Plans.TrackingPlanCache.FailureMetric && Watched(a) == "\"Api\"");
        Assert.Contains(alarms, a => a["Namespace"]!.GetValue<string>() == Pipeline.Metrics.EmbeddedMetrics.Namespace
            && a["MetricName"]!.GetValue<string>() == Pipeline.Aggregator.AggregatorFunction.FailureMetric && Watched(a) == "\"Aggregator\"");
        // Writes throttled for good go round the queue and never reach the DLQ (D21): their own alarm, slower than a burst.
        Assert.Contains(alarms, a => a["Namespace"]!.GetValue<string>() == Pipeline.Metrics.EmbeddedMetrics.Namespace
            && a["MetricName"]!.GetValue<string>() == "Requeued" && Watched(a) == "\"Processor\""
            && a["EvaluationPeriods"]!.GetValue<int>() * a["Period"]!.GetValue<int>() >= 900);
        // Imported rows drain from their queue at the import write rate: an alarm when the oldest row's age plus the backlog's
        // drain time (each message up to the most events a batch message holds) nears the queue's retention, before it drops rows.
        var retention = Int(Template.Properties("ImportEventsQueue")["MessageRetentionPeriod"]);
        var backlog = Template.Properties("ImportBacklogAlarm");
        var metrics = backlog["Metrics"]!.AsArray().ToDictionary(m => m!["Id"]!.GetValue<string>(), m => m!);
        Assert.Equal($"age + depth * {Pipeline.Events.EventBatchMessage.MaxEvents} / ${{ImportWriteRate}}", metrics["done"]["Expression"]!["Fn::Sub"]!.GetValue<string>());
        Assert.Equal(("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"),
            (metrics["age"]["MetricStat"]!["Metric"]!["MetricName"]!.GetValue<string>(), metrics["depth"]["MetricStat"]!["Metric"]!["MetricName"]!.GetValue<string>()));
        Assert.All([metrics["age"], metrics["depth"]],
            m => Assert.Contains("ImportEventsQueue", m["MetricStat"]!["Metric"]!["Dimensions"]!.ToJsonString(), StringComparison.Ordinal));
        Assert.InRange(Int(backlog["Threshold"]), retention / 2, retention - (24 * 3600)); // a day or more to act
        Assert.True(retention < Int(Template.Properties("EventsDeadLetterQueue")["MessageRetentionPeriod"]),
            "a message keeps its age in the DLQ: the DLQ must keep it longer");
        Assert.All(all, a => Assert.Contains("AlarmTopic", a["AlarmActions"]!.ToJsonString(), StringComparison.Ordinal));
    }

    [Fact]
    public void The_schedules_invocation_is_not_retried_by_lambda_the_next_scheduled_run_is_the_retry()
    {
        Assert.Equal(0, Template.Properties("AggregatorFunction")["EventInvokeConfig"]!["MaximumRetryAttempts"]!.GetValue<int>());
    }

    [Fact]
    public void The_dashboard_shows_the_pipeline_end_to_end_and_its_url_is_an_output()
    {
        var body = Template.Properties("Dashboard")["DashboardBody"]!["Fn::Sub"]!.GetValue<string>();
        var dashboard = JsonNode.Parse(System.Text.RegularExpressions.Regex.Replace(body, @"\$\{[^}]+\}", "x"))!;
        var metrics = dashboard["widgets"]!.AsArray().SelectMany(w => w!["properties"]!["metrics"]!.AsArray())
            .Select(m => (Namespace: m![0]!.GetValue<string>(), Name: m[1]!.GetValue<string>())).ToHashSet();
        string[] functions = ["${ApiFunction}", "${ProcessorFunction}", "${AggregatorFunction}"];

        // Events accepted, refused, stored, duplicated, rejected; the queues; the API; every function.
        Assert.Subset(metrics, new HashSet<(string, string)>
        {
            ("AWS/SQS", "NumberOfMessagesSent"), ("AWS/ApiGateway", "4xx"), ("AWS/ApiGateway", "5xx"), ("AWS/ApiGateway", "Latency"),
            (Pipeline.Metrics.EmbeddedMetrics.Namespace, "Processed"), (Pipeline.Metrics.EmbeddedMetrics.Namespace, "Duplicates"),
            (Pipeline.Metrics.EmbeddedMetrics.Namespace, "Rejected"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"), ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Duration"), ("AWS/Lambda", "Throttles"),
            (Pipeline.Metrics.EmbeddedMetrics.Namespace, "Requeued"), ("AWS/DynamoDB", "WriteThrottleEvents"), // a provisioned table at its capacity (D21)
        });
        Assert.All(functions, f => Assert.Contains(f, body, StringComparison.Ordinal));
        Assert.Contains("${EventsDeadLetterQueue.QueueName}", body, StringComparison.Ordinal);
        Assert.Contains("${ImportEventsQueue.QueueName}", body, StringComparison.Ordinal); // a file's rows drain at ImportWriteRate: hours for millions
        Assert.Contains("#dashboards:name=${Dashboard}", Template.Root["Outputs"]!["DashboardUrl"]!["Value"]!["Fn::Sub"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void No_role_allows_a_wildcard_action_or_any_resource()
    {
        foreach (var function in Template.Functions)
        {
            foreach (var statement in Template.AllowStatements(function))
            {
                Assert.All(Template.Strings(statement["Action"]), a => Assert.DoesNotContain("*", a, StringComparison.Ordinal));
                Assert.NotEqual("\"*\"", statement["Resource"]!.ToJsonString());
                Assert.DoesNotContain("\"*\"", statement["Resource"]!.ToJsonString(), StringComparison.Ordinal);
            }
        }
        Assert.DoesNotContain(Template.Functions, f => Template.Properties(f)["Policies"] is not null); // roles are explicit, so SAM adds no managed policy
    }

    [Fact]
    public void The_outputs_give_the_api_url_the_swagger_url_and_the_resource_names()
    {
        var outputs = Template.Root["Outputs"]!.AsObject().Select(o => o.Key).ToList();

        Assert.Subset(outputs.ToHashSet(), new HashSet<string> { "ApiUrl", "SwaggerUrl", "EventsTableName", "ArchiveBucketName", "SummaryTopicArn", "EventsQueueName", "Version" });
    }

    [Fact]
    public void The_version_output_is_the_solutions_version_and_the_changelog_has_its_entry()
    {
        var version = Template.Root["Outputs"]!["Version"]!["Value"]!.GetValue<string>();
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(Pipeline.Local.RepositoryPaths.Discover().Root, "Directory.Build.props"));

        Assert.Equal(props.Descendants("Version").Single().Value, version);
        Assert.Equal(version, Pipeline.ProductVersion.Current);
        Assert.Contains($"## [{version}] - ", File.ReadAllText(Path.Combine(Pipeline.Local.RepositoryPaths.Discover().Root, "CHANGELOG.md")), StringComparison.Ordinal);
    }

    private static readonly string[] StatefulTypes = ["AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup"];

    [Fact]
    public void Every_stateful_resource_survives_deleting_or_replacing_the_stack()
    {
        var stateful = StatefulTypes.SelectMany(Template.OfType).ToList();

        Assert.Equal(16, stateful.Count); // five queues, five tables, two buckets, four log groups
        Assert.All(stateful, r =>
        {
            Assert.Equal("Retain", Template.Resources[r]!["DeletionPolicy"]!.GetValue<string>());
            Assert.Equal("Retain", Template.Resources[r]!["UpdateReplacePolicy"]!.GetValue<string>());
        });
    }

    [Fact]
    public void Arns_name_the_partition_and_names_a_stack_could_make_invalid_are_left_to_cloudformation()
    {
        var text = Template.Root.ToJsonString();

        Assert.DoesNotContain("arn:aws:", text, StringComparison.Ordinal);
        Assert.Null(Template.Properties("ArchiveBucket")["BucketName"]); // a stack name with capitals would make an invalid bucket name
        Assert.All(Template.Functions, f => Assert.Null(Template.Properties(f)["FunctionName"])); // "<stack>-aggregator" can pass the 64-character limit
        Assert.Equal(Pipeline.Processor.ProcessorOptions.MaxRetentionDays, Template.Root["Parameters"]!["RetentionDays"]!["MaxValue"]!.GetValue<int>());
    }

    [Fact]
    public void The_deploy_defaults_name_the_template_and_hold_no_secret()
    {
        var path = Path.Combine(Pipeline.Local.RepositoryPaths.Discover().Root, "aws-lambda-tools-defaults.json");
        var defaults = JsonNode.Parse(File.ReadAllText(path))!;

        Assert.Equal("serverless.template", defaults["template"]!.GetValue<string>());
        Assert.Equal("net10.0", defaults["framework"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(defaults["stack-name"]?.GetValue<string>()));
        Assert.True(defaults["resolve-s3"]!.GetValue<bool>()); // an unattended deploy needs a bucket for the code: the tool makes one
        // Only keys deploy-serverless reads (aws/aws-extensions-for-dotnet-cli, DeployServerlessCommand and its base).
        Assert.Subset(
            new HashSet<string>
            {
                "region", "profile", "configuration", "framework", "template", "stack-name",
                "resolve-s3", "s3-bucket", "s3-prefix", "template-parameters", "msbuild-parameters",
            },
            defaults.AsObject().Select(p => p.Key).ToHashSet());
        Assert.DoesNotContain("secret", File.ReadAllText(path), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("AKIA[0-9A-Z]{16}", File.ReadAllText(path));
    }

    [Fact]
    public void The_cost_page_is_the_cost_reports_output_not_written_by_hand()
    {
        var root = Pipeline.Local.RepositoryPaths.Discover().Root;
        var readme = File.ReadAllText(Path.Combine(root, "docs", "cost.md"));
        const string begin = "<!-- cost:begin -->", end = "<!-- cost:end -->";
        var from = readme.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
        var section = readme[from..readme.IndexOf(end, StringComparison.Ordinal)].Trim();

        Assert.Contains("| **total** |", section, StringComparison.Ordinal);
        Assert.Contains(section, File.ReadAllText(Path.Combine(root, "bench", "results", "cost.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void No_project_but_the_tests_and_the_benchmarks_references_an_executable_project()
    {
        // Every project file of the repository, read as MSBuild reads it: its own references, and those of each
        // Directory.Build.props above it (tests/Directory.Build.props gives every test project the executables under test).
        var root = Pipeline.Local.RepositoryPaths.Discover().Root;
        var projects = Directory.EnumerateFiles(root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !Path.GetRelativePath(root, p).Split(Path.DirectorySeparatorChar).Any(d => d is "bin" or "obj" or "node_modules" || d.StartsWith('.')))
            .Select(Path.GetFullPath)
            .ToList();
        var executables = projects.Where(p => IsExecutable(XDocument.Load(p))).ToHashSet();
        // What the rule is about is found, not listed: the Api (Web SDK), the functions, the local environment, the CLI.
        foreach (var project in new[] { "src/Api/Pipeline.Api.csproj", "src/Processor/Pipeline.Processor.csproj", "src/Aggregator/Pipeline.Aggregator.csproj",
            "src/Local/Pipeline.Local.csproj", "src/Cli/Pipeline.Cli.csproj" })
        {
            Assert.Contains(Path.GetFullPath(Path.Combine(root, project)), executables);
        }
        Assert.DoesNotContain(Path.GetFullPath(Path.Combine(root, "src/Shared/Pipeline.Shared.csproj")), executables);

        var offending = (
            from project in projects
            where !IsTestProject(project, root) && !IsBenchmark(project, root)
            from reference in ProjectReferences(project, root)
            where executables.Contains(reference)
            select $"{Path.GetRelativePath(root, project)} references {Path.GetRelativePath(root, reference)}").ToList();
        Assert.Empty(offending);
        // The rule has something to hold: the tests do reference the executables, through the same reading.
        Assert.Contains(ProjectReferences(Path.GetFullPath(Path.Combine(root, "tests/Local.Tests/Local.Tests.csproj")), root), executables.Contains);
    }

    [Fact]
    public void No_line_of_csharp_is_longer_than_the_editorconfig_limit()
    {
        // RCS0056 fails the build on most long lines, but not on every one (an interpolated string it finds no place to
        // wrap passed it): the limit is checked here as text, on every C# file of the repository.
        var root = Pipeline.Local.RepositoryPaths.Discover().Root;
        var limit = int.Parse(File.ReadLines(Path.Combine(root, ".editorconfig")).First(l => l.StartsWith("max_line_length", StringComparison.Ordinal))
            .Split('=')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(p => !Path.GetRelativePath(root, p).Split(Path.DirectorySeparatorChar).Any(d => d is "bin" or "obj" or "node_modules" || d.StartsWith('.')))
            .ToList();

        Assert.NotEmpty(files);
        Assert.Empty(
            from file in files
            from line in File.ReadLines(file).Select((text, index) => (text, number: index + 1))
            where line.text.Length > limit
            select $"{Path.GetRelativePath(root, file)}:{line.number} ({line.text.Length})");
    }

    private static bool IsExecutable(XDocument project) =>
        project.Root!.Attribute("Sdk")?.Value.Split(';').Contains("Microsoft.NET.Sdk.Web") == true
        || project.Descendants("OutputType").Any(o => o.Value.Trim().Equals("Exe", StringComparison.OrdinalIgnoreCase));

    // A test project says so, in its file or in a Directory.Build.props above it (tests/Directory.Build.props: IsTestProject).
    private static bool IsTestProject(string project, string root) =>
        BuildFiles(project, root).Any(f => XDocument.Load(f).Descendants("IsTestProject").Any(p => p.Value.Trim() == "true"));

    // The benchmarks run the executables in their own process, as the tests do, to measure them.
    private static bool IsBenchmark(string project, string root) =>
        Path.GetRelativePath(root, project).StartsWith("bench" + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static IEnumerable<string> ProjectReferences(string project, string root) =>
        from file in BuildFiles(project, root)
        from reference in XDocument.Load(file).Descendants("ProjectReference")
        let include = reference.Attribute("Include")!.Value.Replace("$(MSBuildThisFileDirectory)", "", StringComparison.Ordinal)
        select Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, include));

    // The project file and each Directory.Build.props from its folder up to the repository's root.
    private static IEnumerable<string> BuildFiles(string project, string root)
    {
        yield return project;
        for (var folder = new DirectoryInfo(Path.GetDirectoryName(project)!); folder is not null && folder.FullName.Length >= root.Length; folder = folder.Parent)
        {
            var props = Path.Combine(folder.FullName, "Directory.Build.props");
            if (File.Exists(props))
            {
                yield return props;
            }
        }
    }

    [Theory]
    [InlineData("src/Api/Pipeline.Api.csproj")]
    [InlineData("src/Processor/Pipeline.Processor.csproj")]
    public void DuckDB_never_ships_in_the_api_or_the_processor(string project)
    {
        var root = Pipeline.Local.RepositoryPaths.Discover().Root;
        var closure = new List<string>();
        var pending = new Queue<string>([Path.GetFullPath(Path.Combine(root, project))]);
        while (pending.TryDequeue(out var path))
        {
            if (closure.Contains(path))
            {
                continue;
            }
            closure.Add(path);
            foreach (var reference in System.Xml.Linq.XDocument.Load(path).Descendants("ProjectReference"))
            {
                pending.Enqueue(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, reference.Attribute("Include")!.Value)));
            }
        }

        Assert.DoesNotContain(closure, p => p.EndsWith("Pipeline.Archive.csproj", StringComparison.Ordinal));
        Assert.All(closure, p => Assert.DoesNotContain("DuckDB", File.ReadAllText(p), StringComparison.Ordinal));
    }
}
