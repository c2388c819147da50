using System.Globalization;

namespace Pipeline.Lambda;

/// <summary>
/// A function's settings, read from its environment (set by serverless.template) and checked when it starts: a missing
/// or invalid one is an init error naming it. The Api binds and validates its settings with ASP.NET Core's options;
/// the functions read theirs here, without Microsoft.Extensions.Configuration, whose binding would add to every cold
/// start of a program that has a handful of variables (docs/architecture.md, D3).
/// </summary>
public sealed class FunctionSettings(Func<string, string?>? read = null)
{
    private readonly Func<string, string?> _read = read ?? System.Environment.GetEnvironmentVariable;

    /// <summary>The variable's value.</summary>
    /// <exception cref="InvalidOperationException">It is missing or empty.</exception>
    public string Required(string name) =>
        _read(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"The environment variable {name} is required.");

    /// <summary>The variable as a whole number from <paramref name="min"/> to <paramref name="max"/>, or <paramref name="fallback"/> if it is not set.</summary>
    /// <exception cref="InvalidOperationException">It is set, and not such a number.</exception>
    public int Number(string name, int fallback, int min, int max) =>
        _read(name) is not { Length: > 0 } text ? fallback
            : int.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
            : throw new InvalidOperationException($"The environment variable {name} must be a whole number from {min} to {max}, not '{text}'.");

    /// <summary>
    /// The variable as a number from <paramref name="min"/> to <paramref name="max"/>, fractions allowed (CloudFormation's
    /// Number parameters take them), or <paramref name="fallback"/> if it is not set.
    /// </summary>
    /// <exception cref="InvalidOperationException">It is set, and not such a number.</exception>
    public double Fraction(string name, double fallback, double min, double max) =>
        _read(name) is not { Length: > 0 } text ? fallback
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
            : throw new InvalidOperationException($"The environment variable {name} must be a number from {min} to {max}, not '{text}'.");
}
