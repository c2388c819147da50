using Microsoft.Extensions.Options;

namespace Pipeline.Api.Tests;

/// <summary>Every setting the API reads is bound and checked when it starts: a bad one stops it, naming the setting.</summary>
public sealed class SettingsTests
{
    [Theory]
    [InlineData("Queue:Url", "", "Queue:Url (environment Queue__Url) is required")]
    [InlineData("ApiKeys:TableName", "", "ApiKeys:TableName (environment ApiKeys__TableName) is required")]
    [InlineData("Limits:MaxBatchEvents", "0", "MaxBatchEvents")]
    [InlineData("Proxy:TrustedNetworks:0", "10.0.0.0/33", "Proxy:TrustedNetworks: '10.0.0.0/33' is not a CIDR network")]
    [InlineData("Tracking:AllowedOrigins", "https://shop.example.com, shop.example.com", "Tracking:AllowedOrigins: 'shop.example.com' is not an origin")]
    public async Task A_bad_setting_stops_the_api_at_start_naming_the_setting(string name, string value, string message)
    {
        await using var app = await ApiApplication.StartAsync(s => s[name] = value);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(app.StartDirectlyAsync);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Good_proxy_and_origin_settings_start_the_api()
    {
        await using var app = await ApiApplication.StartAsync(s =>
        {
            s["Proxy:TrustedNetworks:0"] = "127.0.0.1/32";
            s["Tracking:AllowedOrigins"] = "https://shop.example.com,http://localhost:3000";
        });

        using var response = await app.CreateClient().GetAsync(new Uri("/health", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
