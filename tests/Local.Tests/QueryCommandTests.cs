using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Archive;
using Pipeline.Cli.Commands;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Storage;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed partial class QueryCommandTests
{
    private static readonly DateTimeOffset Hour = EventLayout.Hour(DateTimeOffset.UtcNow.AddHours(-6));

    [Fact]
    public async Task After_compact_the_hour_is_one_parquet_file_query_counts_each_event_once_and_a_late_event_is_counted_before_and_after_recompacting()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var events = Events(25, i => ($"u{i % 5}", i % 3 == 0 ? "signup" : "page_view"));
        await ArchiveAsync(aws, stack, events);
        await ArchiveAsync(aws, stack, events[..10]); // a redelivery: the raw archive holds ten twice

        Assert.Equal("n\n25\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv"));
        using var compacted = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", "--hour", Hour.ToString("O"), .. Endpoints(aws, stack)], compacted, CancellationToken.None));

        // The redelivery wrote the same key as the first delivery of those ten: a key is named from its content.
        Assert.Contains("3 raw object(s) -> 25 event(s)", compacted.ToString(), StringComparison.Ordinal);
        var first = Assert.Single(await ArchiveListing.KeysAsync(aws.S3, stack["ArchiveBucket"], EventLayout.ParquetRoot, CancellationToken.None));
        Assert.StartsWith(EventLayout.ParquetPrefix(Hour), first, StringComparison.Ordinal);
        Assert.Empty(await ArchiveListing.KeysAsync(aws.S3, stack["ArchiveBucket"], EventLayout.EventsRoot, CancellationToken.None));
        Assert.Equal("n\n25\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv"));

        var late = Events(1, _ => ("late", "purchase"));
        await ArchiveAsync(aws, stack, late);
        Assert.Equal("n\n26\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv"));
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", .. Endpoints(aws, stack)], TextWriter.Null, CancellationToken.None));
        Assert.Equal("n\n26\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv"));
        var second = Assert.Single(await ArchiveListing.KeysAsync(aws.S3, stack["ArchiveBucket"], EventLayout.ParquetRoot, CancellationToken.None));
        Assert.NotEqual(first, second); // a new file, the first folded into it and deleted

        // Readers of the archive read the compacted hour as they read raw ones.
        var read = await HourEvents.ReadAsync(aws.S3, stack["ArchiveBucket"], EventLayout.HourOf(second)!.Value, after: null, CancellationToken.None).ToListAsync();
        Assert.Equal(events.Concat(late).Select(e => e.EventId).Order(), read.Select(e => e.EventId)); // in eventId order, each once
    }

    [Fact]
    public async Task The_readme_queries_give_the_expected_answers_over_raw_and_compacted_hours_alike_in_every_format()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        (string? User, string? Anonymous, string Type)[] rows =
        [
            ("u1", null, "page_view"), ("u2", null, "page_view"), (null, "a1", "page_view"), ("u3", null, "signup"), ("u1", null, "purchase"), ("u2", null, "Order Completed"),
        ];
        await ArchiveAsync(aws, stack, [.. rows.Select((r, i) => Event(i) with { UserId = r.User, AnonymousId = r.Anonymous, EventType = r.Type })]);
        var queries = ReadmeQueries();
        Assert.Equal(3, queries.Count);
        string[] expected =
        [
            $"dt,active_users\n{Hour:yyyy-MM-dd},4\n",
            "eventType,events\npage_view,3\nOrder Completed,1\npurchase,1\nsignup,1\n",
            "viewed,purchased\n2,1\n",
        ];

        Assert.Equal(expected, await Task.WhenAll(queries.Select(q => QueryAsync(aws, stack, q, "csv"))));
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", .. Endpoints(aws, stack)], TextWriter.Null, CancellationToken.None));
        Assert.Equal(expected, await Task.WhenAll(queries.Select(q => QueryAsync(aws, stack, q, "csv"))));

        var json = JsonDocument.Parse(await QueryAsync(aws, stack, queries[1], "json")).RootElement;
        Assert.Equal("page_view", json[0].GetProperty("eventType").GetString());
        Assert.Equal(3, json[0].GetProperty("events").GetInt64());
        var table = await QueryAsync(aws, stack, queries[1], "table");
        Assert.Matches(@"│ Order Completed\s+│ 1\s+│", table);
        Assert.EndsWith("4 row(s)\n", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_query_error_is_a_message_naming_the_problem_and_bad_arguments_are_refused()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        await ArchiveAsync(aws, stack, Events(1, _ => ("u", "a")));
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await QueryCommand.RunAsync(
            aws.S3, stack["ArchiveBucket"], "SELECT no_such_column FROM events", QueryCommand.Format.Table, Hour, Hour.AddHours(1), output, error, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Contains("The query failed: Binder Error: Referenced column \"no_such_column\" not found", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("Reading 1 object(s)", error.ToString(), StringComparison.Ordinal); // said before it read them
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(["query"], TextWriter.Null, CancellationToken.None));
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(["query", "SELECT 1", "--format", "xml"], TextWriter.Null, CancellationToken.None));
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(["query", "SELECT 1", "--from", "yesterday"], TextWriter.Null, CancellationToken.None));
    }

    [Theory]
    [InlineData("SELECT * FROM read_csv('/etc/passwd')")]
    [InlineData("COPY (SELECT 1 AS x) TO '/tmp/pipeline-query-escape.csv'")]
    [InlineData("ATTACH '/tmp/pipeline-query-escape.duckdb'")]
    [InlineData("SET enable_external_access = true")]
    [InlineData("INSTALL httpfs")]
    [InlineData("SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')")]
    public async Task Query_runs_the_users_sql_with_no_file_or_network_access_beyond_the_downloaded_hours(string sql)
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        await ArchiveAsync(aws, stack, Events(3, i => ($"u{i}", "page_view")));
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await QueryCommand.RunAsync(aws.S3, stack["ArchiveBucket"], sql, QueryCommand.Format.Table, Hour, Hour.AddHours(1), output, error, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Contains("The query failed", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists("/tmp/pipeline-query-escape.csv"));
        Assert.False(File.Exists("/tmp/pipeline-query-escape.duckdb"));
        Assert.Equal("n\n3\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv")); // the views still read
    }

    [Fact]
    public async Task Query_refuses_a_range_larger_than_max_bytes_before_downloading_anything()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        await ArchiveAsync(aws, stack, Events(3, i => ($"u{i}", "page_view")));
        using var error = new StringWriter();

        var code = await QueryCommand.RunAsync(aws.S3, stack["ArchiveBucket"], "SELECT 1", QueryCommand.Format.Csv, Hour, Hour.AddHours(1), TextWriter.Null, error,
            CancellationToken.None, maxBytes: 10);

        Assert.Equal(2, code);
        Assert.Contains("more than --max-bytes", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_parquet_key_with_glob_characters_is_read_under_a_local_name_of_ours()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var events = Events(5, i => ($"u{i}", "page_view"));
        await ArchiveAsync(aws, stack, events);
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", "--hour", Hour.ToString("O"), .. Endpoints(aws, stack)], TextWriter.Null, CancellationToken.None));
        var compacted = Assert.Single(await ArchiveListing.KeysAsync(aws.S3, stack["ArchiveBucket"], EventLayout.ParquetRoot, CancellationToken.None));
        // A copy under a key that, as a local path, DuckDB would expand as a glob: the same events, so still counted once.
        var hostile = $"{EventLayout.ParquetPrefix(Hour)}*.parquet";
        await aws.S3.CopyObjectAsync(stack["ArchiveBucket"], compacted, stack["ArchiveBucket"], hostile);
        Assert.Contains(hostile, await ArchiveListing.KeysAsync(aws.S3, stack["ArchiveBucket"], EventLayout.ParquetPrefix(Hour), CancellationToken.None));

        Assert.Equal("n\n5\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events", "csv"));
        Assert.Equal("n\n10\n", await QueryAsync(aws, stack, "SELECT count(*) AS n FROM events_parquet", "csv")); // each file read once, none expanded
    }

    private static async Task<string> QueryAsync(LocalAws aws, ProvisionedResources stack, string sql, string format)
    {
        using var output = new StringWriter();
        var code = await Pipeline.Cli.CliCommands.RunAsync(
            ["query", sql, "--format", format, "--from", Hour.ToString("O"), "--to", Hour.AddHours(1).ToString("O"), .. Endpoints(aws, stack)[..4]],
            output,
            CancellationToken.None);
        Assert.Equal(0, code);
        return output.ToString();
    }

    // The local stack's services (query needs only the first four: it reads S3 alone).
    private static string[] Endpoints(LocalAws aws, ProvisionedResources stack) =>
        ["--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--endpoint", aws.Endpoints.DynamoDb.ToString()];

    // The SQL of each `query "..."` line of the README, in order.
    private static List<string> ReadmeQueries() =>
        [.. File.ReadLines(Path.Combine(RepositoryPaths.Discover().Root, "README.md"))
            .Select(line => QueryLine().Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value)];

    [GeneratedRegex("""^pipeline query "([^"]+)"$""")]
    private static partial Regex QueryLine();

    private static QueuedEvent Event(int i) => new()
    {
        SchemaVersion = QueuedEvent.CurrentSchemaVersion,
        EventId = Guid.CreateVersion7().ToString(),
        EventType = "page_view",
        OccurredAt = Hour.AddMinutes(i),
        ReceivedAt = Hour.AddMinutes(i),
        RequestId = "r",
    };

    private static List<QueuedEvent> Events(int count, Func<int, (string User, string Type)> shape) =>
        [.. Enumerable.Range(0, count).Select(i => Event(i) with { UserId = shape(i).User, EventType = shape(i).Type })];

    // Stored and archived by the real Processor code in batches of ten: an object per batch.
    private static async Task ArchiveAsync(LocalAws aws, ProvisionedResources stack, IReadOnlyList<QueuedEvent> events)
    {
        var function = InProcess.Processor(aws, stack, new FunctionLog(TextWriter.Null, "processor"));
        foreach (var batch in events.Chunk(10))
        {
            Assert.Empty(await TestLambda.InvokeAsync(function.HandleAsync,
                [.. batch.Select(e => new SqsMessage { MessageId = Guid.NewGuid().ToString(), Body = JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent) })]));
        }
    }
}
