using System.Reflection;

namespace Pipeline;

/// <summary>The release this build is (<c>Version</c> in <c>Directory.Build.props</c>; CHANGELOG.md).</summary>
public static class ProductVersion
{
    /// <summary>The version, such as <c>0.1.0</c>.</summary>
    public static string Current { get; } =
        typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
