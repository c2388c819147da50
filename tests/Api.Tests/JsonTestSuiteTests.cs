using System.Net.Http.Headers;
using Pipeline.Local;

namespace Pipeline.Api.Tests;

public sealed class JsonTestSuiteTests
{
    private static string SuiteFolder => Path.Combine(RepositoryPaths.Discover().Root, "tests", "testdata", "json-test-suite", "test_parsing");

    [Fact]
    public async Task Every_document_of_the_json_test_suite_gets_a_4xx_and_nothing_is_enqueued()
    {
        var files = Directory.GetFiles(SuiteFolder, "*.json");
        Assert.True(files.Length > 300, $"expected the JSONTestSuite documents in {SuiteFolder}");
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var failures = new List<string>();
        foreach (var file in files)
        {
            // The Segment-compatible endpoints read any Content-Type, so they get the documents as browsers send them too.
            var endpoints = new[] { ("/events", "application/json"), ("/events/batch", "application/json"), ("/v1/track", "application/json"), ("/v1/batch", "text/plain") };
            foreach (var (path, type) in endpoints)
            {
                var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
                content.Headers.ContentType = new MediaTypeHeaderValue(type);
                var response = await client.PostAsync(path, content);
                if ((int)response.StatusCode is < 400 or >= 500)
                {
                    failures.Add($"{Path.GetFileName(file)} {path}: {(int)response.StatusCode}");
                }
            }
        }

        Assert.Empty(failures);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }
}
