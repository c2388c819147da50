using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Pipeline.Api.Hosting;

/// <summary>Which proxies may set X-Forwarded-For (on Lambda: the Web Adapter on loopback). Environment: <c>Proxy__TrustedNetworks__0</c>, ….</summary>
public sealed class ProxyOptions : IValidatableObject
{
    /// <summary>CIDR networks whose X-Forwarded-For is trusted; empty trusts none.</summary>
    public IList<string> TrustedNetworks { get; } = [];

    /// <inheritdoc/>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        TrustedNetworks.Where(n => !IPNetwork.TryParse(n, out _))
            .Select(n => new ValidationResult($"Proxy:TrustedNetworks: '{n}' is not a CIDR network (e.g. 127.0.0.1/32).", [nameof(TrustedNetworks)]));
}
