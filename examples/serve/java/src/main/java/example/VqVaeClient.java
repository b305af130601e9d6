package example;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Base64;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.util.EntityUtils;

/**
 * A TensorFlow Serving REST client for a VQ-VAE compression model, written
 * the way such clients usually are (Apache HttpClient + Jackson). It talks
 * to `vqkit serve` unchanged:
 *
 *   compress   IMAGE [OUT]   POST {"instances":[{"image":"<base64>"}]} → predictions[0].compressed → OUT (compressed.bin)
 *   decompress IN [OUT.png]  POST {"signature_name":"decompress","instances":[{"compressed":"<base64>"}]} → predictions[0].image.b64 → OUT.png
 *
 * The server URL defaults to http://localhost:8501/v1/models/vq_vae (override with VQ_VAE_URL).
 */
public final class VqVaeClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  private VqVaeClient() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: VqVaeClient compress IMAGE [compressed.bin] | decompress compressed.bin [out.png]");
      System.exit(2);
    }
    String model = System.getenv().getOrDefault("VQ_VAE_URL", "http://localhost:8501/v1/models/vq_vae");
    try (CloseableHttpClient client = HttpClients.createDefault()) {
      if (args[0].equals("compress")) {
        Path out = Paths.get(args.length > 2 ? args[2] : "compressed.bin");
        byte[] image = Files.readAllBytes(Paths.get(args[1]));
        ObjectNode body = JSON.createObjectNode();
        body.putArray("instances").addObject().put("image", Base64.getEncoder().encodeToString(image));
        JsonNode prediction = predict(client, model, body);
        byte[] compressed = Base64.getDecoder().decode(prediction.get("compressed").asText());
        Files.write(out, compressed);
        System.out.printf("%s: %d bytes → %s: %d bytes (%.3f bits/pixel, code grid %s)%n",
            args[1], image.length, out, compressed.length, prediction.get("bpp").asDouble(), prediction.get("shape"));
      } else if (args[0].equals("decompress")) {
        Path out = Paths.get(args.length > 2 ? args[2] : "decompressed.png");
        ObjectNode body = JSON.createObjectNode();
        body.put("signature_name", "decompress");
        body.putArray("instances").addObject().put("compressed", Base64.getEncoder().encodeToString(Files.readAllBytes(Paths.get(args[1]))));
        JsonNode prediction = predict(client, model, body);
        Files.write(out, Base64.getDecoder().decode(prediction.get("image").get("b64").asText()));
        System.out.printf("%s → %s (%dx%d)%n", args[1], out, prediction.get("width").asInt(), prediction.get("height").asInt());
      } else {
        System.err.println("unknown command " + args[0]);
        System.exit(2);
      }
    }
  }

  /** POSTs a predict request and returns predictions[0]; a non-200 answer carries {"error": "..."}. */
  private static JsonNode predict(CloseableHttpClient client, String model, JsonNode body) throws IOException {
    HttpPost post = new HttpPost(model + ":predict");
    post.setEntity(new StringEntity(JSON.writeValueAsString(body), ContentType.APPLICATION_JSON));
    try (CloseableHttpResponse response = client.execute(post)) {
      String text = EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
      JsonNode json = JSON.readTree(text);
      int status = response.getStatusLine().getStatusCode();
      if (status != 200) {
        throw new IOException("HTTP " + status + ": " + json.path("error").asText(text));
      }
      return json.get("predictions").get(0);
    }
  }
}
