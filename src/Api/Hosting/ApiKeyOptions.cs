using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>Where API keys are checked. Environment: <c>ApiKeys__TableName</c>, <c>ApiKeys__CacheSeconds</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The API-keys table (the template's ApiKeysTable).</summary>
    [Required(ErrorMessage = "ApiKeys:TableName (environment ApiKeys__TableName) is required: the API-keys table.")]
    public string TableName { get; set; } = "";

    /// <summary>How long a key lookup is cached; a revoked key keeps working at most this long.</summary>
    [Range(0, 3600)]
    public int CacheSeconds { get; set; } = 30;
}
