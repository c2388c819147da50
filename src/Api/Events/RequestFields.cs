namespace Pipeline.Api.Events;

/// <summary>What the Api takes from the HTTP request that carried an event (the rules of the event itself are <see cref="Pipeline.Intake.EventRules"/>).</summary>
public static class RequestFields
{
    /// <summary>Most characters of a User-Agent kept with an event; the rest is cut.</summary>
    public const int MaxUserAgent = 512;

    /// <summary>The request's User-Agent, at most <see cref="MaxUserAgent"/> characters; null if it has none.</summary>
    public static string? UserAgent(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var userAgent = http.Request.Headers.UserAgent.ToString();
        return userAgent.Length == 0 ? null : userAgent[..Math.Min(userAgent.Length, MaxUserAgent)];
    }
}
