using System.Runtime.CompilerServices;

namespace Pipeline.Api.Hosting;

/// <summary>
/// A match timeout for every regular expression of the Api process that sets none of its own: a backstop behind the
/// tracking plan's own bounds (<see cref="Pipeline.Plans.PlanBudget"/>), for a regex a library builds where we cannot reach it.
/// .NET reads it once, when its Regex type first starts, so it is set as the Api's assembly loads, before Main.
/// </summary>
internal static class RegexDefaults
{
    /// <summary>The default match timeout.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    [ModuleInitializer]
    internal static void Apply()
    {
        if (AppContext.GetData("REGEX_DEFAULT_MATCH_TIMEOUT") is null)
        {
            AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", MatchTimeout);
        }
    }
}
