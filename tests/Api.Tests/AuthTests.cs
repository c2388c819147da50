using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Api.Tests;

public sealed class AuthTests
{
    private static StringContent Event() => new("""{ "eventType": "a", "userId": "u" }""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task Writes_need_a_known_unrevoked_key()
    {
        await using var app = await ApiApplication.StartAsync();
        using var anonymous = app.CreateClient();
        using var wrong = app.CreateClient();
        wrong.DefaultRequestHeaders.Add("x-api-key", "pk_this-key-was-never-created");
        var (revokedKey, revoked) = await app.Keys.CreateAsync("to revoke", CancellationToken.None);
        await app.Keys.RevokeAsync(revoked.KeyId, CancellationToken.None);
        using var revokedClient = app.CreateClient();
        revokedClient.DefaultRequestHeaders.Add("x-api-key", revokedKey);
        using var good = app.CreateKeyedClient();

        var none = await anonymous.PostAsync("/events", Event());
        var unknown = await wrong.PostAsync("/events", Event());
        var revokedAnswer = await revokedClient.PostAsync(
            "/events/batch", new StringContent("""{ "events": [ { "eventType": "a", "userId": "u" } ] }""", Encoding.UTF8, "application/json"));
        var accepted = await good.PostAsync("/events", Event());

        foreach (var response in new[] { none, unknown, revokedAnswer })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("x-api-key", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Single(await app.DrainQueueAsync());
    }

    [Fact]
    public async Task Keys_are_stored_only_as_hashes()
    {
        await using var app = await ApiApplication.StartAsync();

        var items = (await app.Aws.DynamoDb.ScanAsync(new Amazon.DynamoDBv2.Model.ScanRequest { TableName = app.Stack["ApiKeysTable"] })).Items;

        var item = Assert.Single(items);
        Assert.DoesNotContain(item.Values, v => v.S?.Contains(app.ApiKey, StringComparison.Ordinal) == true);
        Assert.Equal(Pipeline.ApiKeys.ApiKeyRegistry.Hash(app.ApiKey), item["keyHash"].S);
    }

    [Fact]
    public async Task Health_and_swagger_need_no_key_and_the_document_declares_the_key_scheme()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateClient();

        var health = await client.GetAsync("/health");
        var ui = await client.GetAsync("/swagger/index.html");
        var document = await client.GetStringAsync("/swagger/v1/swagger.json");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(Pipeline.ProductVersion.Current, JsonNode.Parse(await health.Content.ReadAsStringAsync())!["version"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("text/html", ui.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var json = System.Text.Json.Nodes.JsonNode.Parse(document)!;
        Assert.Equal("x-api-key", json["components"]!["securitySchemes"]!["ApiKey"]!["name"]!.GetValue<string>());
        Assert.NotNull(json["paths"]!["/events"]!["post"]);
        Assert.NotNull(json["paths"]!["/events/batch"]!["post"]);
        Assert.Empty(json["paths"]!["/health"]!["get"]!["security"]!.AsArray()); // no key needed
        Assert.Null(json["paths"]!["/events"]!["post"]!["security"]); // the document's requirement: the key
        Assert.Contains("32768 bytes", document, StringComparison.Ordinal);
        Assert.Contains("page_view", document, StringComparison.Ordinal);
    }
}
