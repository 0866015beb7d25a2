using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace TranslationTrainer.Serving;

/// <summary>
/// The fields of a request body, JSON object or form (urlencoded or multipart), as LibreTranslate accepts both.
/// A wrong or missing field is an <see cref="HttpError"/> 400 naming it.
/// </summary>
public sealed class RequestFields
{
    private readonly JsonElement? json;
    private readonly IFormCollection? form;

    private RequestFields(JsonElement? json, IFormCollection? form)
    {
        this.json = json;
        this.form = form;
    }

    public static async Task<RequestFields> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancel)
    {
        if (request.ContentLength > maxBytes) throw TooLarge(maxBytes);
        try
        {
            if (request.HasFormContentType)
            {
                int limit = (int)Math.Min(maxBytes, int.MaxValue);
                return new RequestFields(null, await request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = maxBytes, ValueLengthLimit = limit, KeyLengthLimit = limit }, cancel));
            }
            using var body = new MemoryStream();
            var buffer = new byte[16384];
            for (int read; (read = await request.Body.ReadAsync(buffer, cancel)) > 0;)
            {
                body.Write(buffer, 0, read);
                if (body.Length > maxBytes) throw TooLarge(maxBytes); // a chunked body has no length to check first
            }
            if (body.Length == 0) throw new HttpError(400, "the request has no body; send a JSON object or form fields");
            using var document = JsonDocument.Parse(body.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new HttpError(400, "the request body must be a JSON object");
            return new RequestFields(document.RootElement.Clone(), null);
        }
        catch (JsonException e)
        {
            throw new HttpError(400, $"the request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBytes);
        }
        catch (InvalidDataException e)
        {
            throw new HttpError(400, $"the form data cannot be read: {e.Message}");
        }
    }

    private static HttpError TooLarge(long maxBytes) => new(413, $"the request body is over {maxBytes:N0} bytes");

    /// <summary>A field that is a string or an array of strings (LibreTranslate's q), and whether it was an array.</summary>
    public (IReadOnlyList<string> Texts, bool IsArray)? Texts(string name)
    {
        if (form is not null)
            return form.TryGetValue(name, out var values) && values.Count > 0 ? ([.. values.Select(v => v ?? "")], values.Count > 1) : null;
        if (Json(name) is not { } value) return null;
        if (value.ValueKind == JsonValueKind.String) return ([value.GetString()!], false);
        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return ([.. value.EnumerateArray().Select(e => e.GetString()!)], true);
        throw new HttpError(400, $"'{name}' must be a string or an array of strings");
    }

    public string? String(string name)
    {
        if (form is not null) return form.TryGetValue(name, out var values) ? values.ToString() : null;
        if (Json(name) is not { } value) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new HttpError(400, $"'{name}' must be a string");
    }

    public int? Int(string name) =>
        Number(name) is not { } number ? null
        : number == Math.Floor(number) && Math.Abs(number) <= int.MaxValue ? (int)number
        : throw new HttpError(400, $"'{name}' must be an integer");

    public double? Double(string name) => Number(name);

    public bool? Bool(string name)
    {
        string? text;
        if (form is not null) text = form.TryGetValue(name, out var values) ? values.ToString() : null;
        else if (Json(name) is not { } value) return null;
        else if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) return value.GetBoolean();
        else text = value.ValueKind == JsonValueKind.String ? value.GetString() : throw new HttpError(400, $"'{name}' must be true or false");
        return text is null ? null : bool.TryParse(text, out var flag) ? flag : throw new HttpError(400, $"'{name}' must be true or false");
    }

    /// <summary>A number, also when sent as a string (form fields always are).</summary>
    private double? Number(string name)
    {
        string? text;
        if (form is not null) text = form.TryGetValue(name, out var values) ? values.ToString() : null;
        else if (Json(name) is not { } value) return null;
        else if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        else text = value.ValueKind == JsonValueKind.String ? value.GetString() : throw new HttpError(400, $"'{name}' must be a number");
        return text is null ? null
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) ? number
            : throw new HttpError(400, $"'{name}' must be a number");
    }

    /// <summary>A JSON field; null (absent) when missing or JSON null.</summary>
    private JsonElement? Json(string name) =>
        json!.Value.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
}
